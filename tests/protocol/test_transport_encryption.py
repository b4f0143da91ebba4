"""CurveZMQ transport encryption, asked for by jupyter_client's ``transport_encryption``.

jupyter_client 8.9 and later puts a Curve key pair in the connection file when the spec
declares ``"supported_encryption": ["curve"]`` and the manager's policy is "auto" or
"required"; the kernel then makes every socket a Curve server. A peer without the server's
public key fails the handshake: it never reaches the kernel, and nothing reaches it.
"""

from __future__ import annotations

import contextlib
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import zmq
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from jupyter_client.session import Session
from zmq.utils.monitor import recv_monitor_message

from async_kernel.cli._kernelspec import install_kernel_spec
from tests.kernel_fixtures import TIMEOUT, KernelHarness, ready_client, stdout_of
from tests.protocol.conftest import BACKENDS

if TYPE_CHECKING:
    from collections.abc import Iterator

_HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)


@contextmanager
def encrypted_kernel(
    folder: Path, backend: str, policy: str = "required"
) -> Iterator[KernelHarness]:
    """A kernel of the installed spec, started by a KernelManager asking for encryption."""
    path = install_kernel_spec("curve", backend=backend, prefix=str(folder))
    manager = KernelManager(
        kernel_name="curve",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(path.parent)]),
        transport_encryption=policy,
    )
    log_path = folder / "kernel.log"
    with log_path.open("ab") as log_file:
        env = dict(os.environ, IPYTHONDIR=str(folder / "ipython"), PYTHONUNBUFFERED="1")
        manager.start_kernel(env=env, stdout=log_file, stderr=log_file)
        client = None
        try:
            client = ready_client(manager, log_path)
            yield KernelHarness(manager, client)
        finally:
            if client is not None:
                client.stop_channels()
            manager.shutdown_kernel(now=False)


def test_auto_encrypts_a_kernel_of_the_default_spec(tmp_path: Path) -> None:
    """jupyter_client's "auto" encrypts async-kernel: its spec declares Curve support."""
    with encrypted_kernel(tmp_path, "asyncio", policy="auto") as kernel:
        assert "curve_secretkey" in _connection_info(kernel)
        _, messages = kernel.execute("print('auto')")
        assert stdout_of(messages) == "auto\n"


def _connection_info(harness: KernelHarness) -> dict[str, Any]:
    return json.loads(Path(harness.manager.connection_file).read_text())


@pytest.mark.parametrize("backend", BACKENDS)
def test_required_encryption_serves_every_channel(tmp_path: Path, backend: str) -> None:
    """With transport_encryption="required", shell, iopub, stdin, control and heartbeat work.

    The spec is the one ``async-kernel install`` writes: it declares ``supported_encryption``.
    """
    with encrypted_kernel(tmp_path, backend) as kernel:
        info = _connection_info(kernel)
        assert len(info["curve_publickey"]) == 40
        assert len(info["curve_secretkey"]) == 40

        reply, messages = kernel.execute("print('over curve')")
        assert reply["content"]["status"] == "ok"
        assert stdout_of(messages) == "over curve\n"

        msg_id = kernel.client.execute("answer = input('? ')", allow_stdin=True)
        request = kernel.client.get_stdin_msg(timeout=TIMEOUT)
        assert request["content"]["prompt"] == "? "
        kernel.client.input("42")
        assert kernel.reply_for(msg_id)["content"]["status"] == "ok"
        reply, messages = kernel.execute("print(answer)")
        assert stdout_of(messages) == "42\n"

        control_id = kernel.send("control", "kernel_info_request", {})
        assert kernel.reply_for(control_id, "control")["content"]["status"] == "ok"

        heartbeat = kernel.client.connect_hb()  # a Curve client, with the connection's keys
        try:
            heartbeat.send(b"ping")
            assert heartbeat.poll(TIMEOUT * 1000)
            assert heartbeat.recv() == b"ping"
        finally:
            heartbeat.close(linger=0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("client_keys", ["none", "wrong server key"])
def test_client_without_server_key_gets_nothing(
    tmp_path: Path, backend: str, client_keys: str
) -> None:
    """A peer without the server's public key gets no reply, no output and no heartbeat.

    It has the message key, so only the transport keeps it out. Its sockets connect, fail the
    Curve handshake (seen on a socket monitor, not waited for by time), and send anyway: the
    kernel meanwhile serves its keyed client, output included, and the outsider has nothing.
    """
    with encrypted_kernel(tmp_path, backend) as kernel:
        info = _connection_info(kernel)
        session = Session(key=info["key"].encode(), signature_scheme=info["signature_scheme"])
        context = zmq.Context()
        outsiders = {
            "shell_port": context.socket(zmq.DEALER),
            "control_port": context.socket(zmq.DEALER),
            "stdin_port": context.socket(zmq.DEALER),
            "iopub_port": context.socket(zmq.SUB),
            "hb_port": context.socket(zmq.REQ),
        }
        try:
            for port_name, socket in outsiders.items():
                socket.linger = 0
                socket.sndtimeo = 0
                if client_keys == "wrong server key":
                    # A Curve client that trusts another server: the kernel cannot prove it is.
                    public, secret = zmq.curve_keypair()
                    socket.curve_publickey = public
                    socket.curve_secretkey = secret
                    socket.curve_serverkey = zmq.curve_keypair()[0]
                if socket.type == zmq.SUB:
                    socket.subscribe(b"")
                _connect_and_fail(socket, f"tcp://127.0.0.1:{info[port_name]}")
            # A socket whose handshake failed may have no pipe to queue in: never block on it.
            with contextlib.suppress(zmq.Again):
                session.send(outsiders["shell_port"], "kernel_info_request", {})
            with contextlib.suppress(zmq.Again):
                session.send(outsiders["control_port"], "kernel_info_request", {})
            with contextlib.suppress(zmq.Again):
                outsiders["hb_port"].send(b"ping")

            reply, messages = kernel.execute("print('for keyed clients only')")
            assert reply["content"]["status"] == "ok"
            assert stdout_of(messages) == "for keyed clients only\n"
            control_id = kernel.send("control", "kernel_info_request", {})
            assert kernel.reply_for(control_id, "control")["content"]["status"] == "ok"

            for port_name, socket in outsiders.items():
                assert not socket.poll(0), f"a peer without the server key got data on {port_name}"
        finally:
            for socket in outsiders.values():
                socket.close(linger=0)
            context.term()


def _connect_and_fail(socket: zmq.Socket[bytes], url: str) -> None:
    """Connect ``socket`` and wait for its first handshake to fail (never to succeed)."""
    monitor = socket.get_monitor_socket()
    try:
        socket.connect(url)
        while True:
            assert monitor.poll(TIMEOUT * 1000), f"no handshake result from {url}"
            event = recv_monitor_message(monitor)["event"]
            assert event != zmq.EVENT_HANDSHAKE_SUCCEEDED, f"{url} accepted a peer without key"
            if event & _HANDSHAKE_FAILED:
                return
    finally:
        socket.disable_monitor()
        monitor.close(linger=0)
