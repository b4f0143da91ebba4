"""In-process kernels: the dispatcher, handlers and shell driven through the callable interface.

No subprocess and no sockets: a `CallableKernel` serves in the test's own event loop (asyncio
or trio), with real threads for subshells and ``thread``-mode requests. Each test gets a
kernel of its own; everything it patched in the process is put back when it stops, which
these tests also check.
"""

from __future__ import annotations

import itertools
import sys
from typing import TYPE_CHECKING, Any

import aiologic
import anyio
import pytest

from async_kernel import CallableKernel

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

_ids = itertools.count()


class InProcessKernel:
    """A serving `CallableKernel` and what it sent, with helpers to send requests."""

    def __init__(self, backend: str) -> None:
        self.sent: list[dict[str, Any]] = []
        self._arrived = aiologic.Event()
        self.callable = CallableKernel(self._on_message, backend=backend)
        self.streams: tuple[Any, Any] = (sys.stdout, sys.stderr)

    def _on_message(self, message: dict[str, Any]) -> None:
        """Any thread: subshells and worker threads send from their own."""
        self.sent.append(message)
        self._arrived.set()

    def send(
        self,
        msg_type: str,
        content: dict[str, Any] | None = None,
        *,
        channel: str = "shell",
        metadata: dict[str, Any] | None = None,
        subshell_id: str | None = None,
    ) -> str:
        """Hand one request to the kernel; return its msg_id."""
        header: dict[str, Any] = {
            "msg_id": f"test-{next(_ids)}",
            "msg_type": msg_type,
            "session": "in-process",
            "username": "test",
            "version": "5.5",
        }
        if subshell_id is not None:
            header["subshell_id"] = subshell_id
        message = {"channel": channel, "header": header, "content": content or {}}
        if metadata is not None:
            message["metadata"] = metadata
        # pytest's capture puts its own sys.stdout back at each test phase: give the kernel's
        # streams back, as they are while a kernel process serves.
        sys.stdout, sys.stderr = self.streams
        self.callable.receive(message)
        return header["msg_id"]

    async def reply_to(self, msg_id: str) -> dict[str, Any]:
        """Wait for the reply to ``msg_id`` (and its idle status, so its output is all in)."""
        with anyio.fail_after(30):
            while True:
                # Made before looking, so a message sent meanwhile (from any thread) wakes us.
                arrived = self._arrived = aiologic.Event()
                reply = next(
                    (
                        m
                        for m in self.sent
                        if m["channel"] != "iopub" and m["parent_header"].get("msg_id") == msg_id
                    ),
                    None,
                )
                if reply is not None and self._idle(msg_id):
                    return reply
                await arrived

    async def request(
        self, msg_type: str, content: dict[str, Any] | None = None, **options: Any
    ) -> dict[str, Any]:
        """Send a request and wait for its reply."""
        return await self.reply_to(self.send(msg_type, content, **options))

    def _idle(self, msg_id: str) -> bool:
        return any(
            m["msg_type"] == "status"
            and m["parent_header"].get("msg_id") == msg_id
            and m["content"]["execution_state"] == "idle"
            for m in self.sent
        )

    def iopub(self, msg_id: str, msg_type: str | None = None) -> list[dict[str, Any]]:
        """The iopub messages sent as children of ``msg_id`` (of ``msg_type`` only, if given)."""
        return [
            m
            for m in self.sent
            if m["channel"] == "iopub"
            and m["parent_header"].get("msg_id") == msg_id
            and (msg_type is None or m["msg_type"] == msg_type)
        ]

    def stdout(self, msg_id: str) -> str:
        """What the request wrote to stdout."""
        return "".join(
            m["content"]["text"]
            for m in self.iopub(msg_id, "stream")
            if m["content"]["name"] == "stdout"
        )


@pytest.fixture
async def kernel(anyio_backend: str) -> AsyncIterator[InProcessKernel]:
    """A kernel serving in this test's event loop, shut down at the end of the test."""
    inprocess = InProcessKernel(anyio_backend)
    async with anyio.create_task_group() as tasks:
        await tasks.start(inprocess.callable.serve)
        inprocess.streams = sys.stdout, sys.stderr
        yield inprocess
        inprocess.send("shutdown_request", channel="control")
