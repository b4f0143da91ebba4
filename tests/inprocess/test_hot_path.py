"""Which of the kernel's modules one execute_request passes through, from frames to reply.

docs/architecture.md lists them; this test keeps the list true. It drives the transport of an
in-process kernel directly (the callable interface: the same path as ZeroMQ's but for the
transport module) and records, with ``sys.setprofile``, the module of every Python function
called between the request's arrival and its reply. The request is queued in the kernel's
own loop, the thread the test runs in, so one thread's profile sees the whole path.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import aiologic
import anyio
import pytest

from async_kernel import CallableKernel

if TYPE_CHECKING:
    from types import FrameType

pytestmark = pytest.mark.anyio

HOT_PATH = {
    "async_kernel.messaging._callable_transport",
    "async_kernel.messaging._codec",
    "async_kernel.messaging._message",
    "async_kernel._dispatcher",
    "async_kernel.handlers._execute",
    "async_kernel.runtime._interrupts",
    "async_kernel.runtime._outbox",
    "async_kernel.shell._shell",
}
"""docs/architecture.md, "One execute_request, file by file": keep both in step."""


async def test_an_execute_of_pass_runs_code_in_eight_kernel_modules(anyio_backend: str) -> None:
    modules: set[str] = set()
    replied: list[aiologic.Event] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        del arg
        if event == "call":
            name = frame.f_globals.get("__name__", "")
            if name.startswith("async_kernel"):
                modules.add(name)

    def on_message(message: dict[str, Any]) -> None:
        if message["msg_type"] == "execute_reply":
            sys.setprofile(None)
            replied[-1].set()

    kernel = CallableKernel(on_message, backend=anyio_backend)
    async with anyio.create_task_group() as tasks:
        await tasks.start(kernel.serve)
        transport = kernel._transport
        assert transport is not None
        for attempt in range(3):  # the first cells load and warm up what later ones reuse
            modules.clear()
            replied.append(aiologic.Event())
            header = {"msg_id": f"pass-{attempt}", "msg_type": "execute_request", "session": "s"}
            request = {"channel": "shell", "header": header, "content": {"code": "pass"}}
            sys.setprofile(profile)
            transport.receive(request)
            with anyio.fail_after(30):
                await replied[-1]
        shutdown = {"msg_id": "bye", "msg_type": "shutdown_request", "session": "s"}
        kernel.receive({"channel": "control", "header": shutdown, "content": {}})
    assert modules == HOT_PATH
    assert len(modules) <= 8
