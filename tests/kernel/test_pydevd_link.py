"""Tests for async_kernel.debugger._pydevd_link: telling pydevd's connection from stray ones.

A real pydevd (``debugpy.connect`` in a subprocess) connects to the listener, next to a
ZeroMQ socket (what reconnects to a dead kernel's port in the wild), a peer that stays silent
and a peer that answers with the wrong token.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from typing import TYPE_CHECKING, Any

import anyio
import pytest
import zmq

from async_kernel.debugger._pydevd_link import accept_pydevd

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.anyio

TOKEN = "the-token"

PYDEVD = """\
import os, sys
os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
import debugpy
debugpy.configure(subProcess=False)
debugpy.connect(("127.0.0.1", int(sys.argv[1])), access_token=sys.argv[2])
"""


class WrongTokenPeer:
    """Answers the first DAP request with a pydevdAuthorize response holding another token."""

    def __init__(self, port: int) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port))
        self.closed_by_kernel = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += self.socket.recv(4096)
        header, _, body = data.partition(b"\r\n\r\n")
        length = int(header.split(b":")[1])
        while len(body) < length:
            body += self.socket.recv(4096)
        request = json.loads(body[:length])
        answer: dict[str, Any] = {
            "type": "response",
            "request_seq": request["seq"],
            "success": True,
            "command": request["command"],
            "body": {"clientAccessToken": "not-the-token"},
        }
        payload = json.dumps(answer).encode()
        self.socket.sendall(b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload))
        if self.socket.recv(4096) == b"":
            self.closed_by_kernel.set()

    def close(self) -> None:
        self._thread.join(10)
        self.socket.close()


@pytest.fixture
def zmq_context() -> Iterator[zmq.Context[Any]]:
    context: zmq.Context[Any] = zmq.Context()
    yield context
    context.destroy(linger=0)


async def test_only_pydevd_with_the_token_is_accepted(
    anyio_backend: str, zmq_context: zmq.Context[Any]
) -> None:
    """Stray peers are closed (or left behind) and pydevd's own connection is returned."""
    del anyio_backend
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    stray_zmq = zmq_context.socket(zmq.DEALER)
    stray_zmq.connect(f"tcp://127.0.0.1:{port}")
    silent = socket.create_connection(("127.0.0.1", port))
    wrong_token = WrongTokenPeer(port)
    pydevd = await anyio.open_process(
        [sys.executable, "-c", PYDEVD, str(port), TOKEN], stdout=None, stderr=None
    )
    delivered: list[dict[str, Any]] = []
    try:
        async with listener:
            with anyio.fail_after(30):
                client = await accept_pydevd(listener, TOKEN, delivered.append)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(client.read_forever)
            with anyio.fail_after(30):
                response = await client.request("initialize", {"adapterID": "python"})
            assert response["success"] is True
            assert response["body"]["supportsConfigurationDoneRequest"] is True
            await client.aclose()
        assert wrong_token.closed_by_kernel.wait(10)
        silent.settimeout(10)
        received = silent.recv(4096)
        while chunk := silent.recv(4096):  # the kernel's pydevdAuthorize, then the end
            received += chunk
        assert b'"command": "pydevdAuthorize"' in received
    finally:
        pydevd.kill()
        await pydevd.wait()
        silent.close()
        wrong_token.close()
        stray_zmq.close(linger=0)
