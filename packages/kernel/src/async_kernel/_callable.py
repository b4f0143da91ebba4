"""The callable interface: a kernel driven by function calls, with no sockets and no threads.

This is how a host that is not a Jupyter client over ZeroMQ runs the kernel: JupyterLite's
web worker calling into Pyodide, or a test. The host passes each message to
:meth:`CallableKernel.receive` and gets the kernel's replies and iopub messages through the
``on_message`` callback it registered; ``input()`` asks the ``on_input_request`` callback, if
the host gave one.

Messages are dicts shaped as JupyterLite's kernel messages: ``channel`` (``"shell"``,
``"control"`` or ``"stdin"`` in; ``"shell"``, ``"control"``, ``"iopub"`` out), ``header``,
``parent_header``, ``metadata``, ``content`` and optional ``buffers`` (bytes-like). A JSON
string or bytes of the same (without buffers) is accepted too. Outgoing dicts also carry
``msg_id`` and ``msg_type``; their buffers are memoryviews.

Inside, messages still travel as the Jupyter wire frames (unsigned: no key, since nothing
leaves the process), so the kernel core has one path for every transport; the transport
converts at the boundary.

Everything runs in the thread and event loop that run the kernel: call ``receive`` there.
Callers fall back to tasks of that loop (``async_caller.threads_available``), so subshells,
control and ``thread``-mode requests all share it; a cell that blocks holds up everything,
and an interrupt can only cancel a cell that awaits.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import anyio

from .messaging._callable_transport import CallableTransport, InputHandler, MessageHandler
from .messaging._connection import ConnectionInfo
from .runtime._task_interrupts import TaskInterruptController

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from anyio.abc import TaskStatus

    from ._kernel import Kernel
    from .messaging._transport import FramesHandler

__all__ = ["CallableKernel", "CallableTransport", "InputHandler", "MessageHandler"]


class CallableKernel:
    """A kernel served through function calls: for JupyterLite (Pyodide) and other hosts.

    Create it in the thread that will run it, then run :meth:`serve` in a task group (or
    ``await`` :meth:`start` on asyncio, as in Pyodide) and pass each message to
    :meth:`receive`. Replies and iopub messages go to ``on_message``, as they are made.

    Args:
        on_message: Called with each message the kernel sends (see the module docstring for
            the format), in the kernel's loop; must not block. An exception it raises is
            logged and the message dropped.
        on_input_request: Answers ``input()`` and ``getpass()``: called with the
            ``input_request`` message, it returns the text (or a whole ``input_reply``
            message). It must block until the user answers (in a browser: a synchronous
            request, which needs cross-origin isolation). Without it, ``input()`` raises
            ``StdinNotImplementedError``.
        backend: ``"asyncio"`` (Pyodide) or ``"trio"``: the loop the kernel runs on.

    Interrupts cancel cells that await; the kernel installs no signal handlers (the process
    belongs to the host). Where threads exist (CPython), subshells and ``thread``-mode
    requests still get threads of their own; in Pyodide they share the kernel's loop.
    """

    def __init__(
        self,
        on_message: MessageHandler,
        *,
        on_input_request: InputHandler | None = None,
        backend: str = "asyncio",
    ) -> None:
        from ._kernel import Kernel  # keeps importing this module cheap

        self._ready: Callable[[], object] = _nothing
        self._task: asyncio.Task[None]
        self._transport: CallableTransport | None = None

        def make_transport(on_frames: FramesHandler) -> CallableTransport:
            self._transport = CallableTransport(
                on_frames, on_message, on_input_request, on_start=lambda: self._ready()
            )
            return self._transport

        self.kernel: Kernel = Kernel(
            ConnectionInfo(),
            backend=backend,
            transport=make_transport,
            interrupts=TaskInterruptController(),  # the host owns the process's signals
        )
        """The kernel itself (its shell is ``kernel.shell`` once serving)."""

    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run the kernel until a ``shutdown_request`` (in the loop that will run it).

        With ``await task_group.start(kernel.serve)``, returns once the kernel takes messages.
        """
        self._ready = task_status.started
        await self.kernel.run()

    async def start(self) -> None:
        """Serve in a new asyncio task; return once the kernel takes messages (asyncio only).

        The host's loop keeps the task running: in Pyodide, the browser's event loop.
        """
        ready = asyncio.Event()
        loop = asyncio.get_running_loop()

        class _Started:
            def started(self, value: object = None) -> None:
                del value
                ready.set()

        self._task = loop.create_task(self.serve(task_status=_Started()))
        waiter = loop.create_task(ready.wait())
        await asyncio.wait({self._task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if self._task.done():
            self._task.result()  # raises what stopped the kernel from starting
            msg = "the kernel stopped before it was ready"
            raise RuntimeError(msg)

    async def wait_stopped(self) -> None:
        """Wait until the kernel served by :meth:`start` has shut down (asyncio only)."""
        await self._task

    def receive(self, message: Mapping[str, Any] | str | bytes) -> None:
        """Hand one message to the kernel (in the kernel's loop, once it serves).

        Short requests (kernel_info, comm_open...) are answered before this returns; others
        run as tasks of the loop.

        Raises:
            InvalidMessageError: ``message`` is not a message, or names no channel the kernel
                reads (``shell``, ``control``, ``stdin``).
            RuntimeError: the kernel is not serving yet.
        """
        if self._transport is None or not self._transport.serving:
            msg = "the kernel is not serving yet: await start() or serve() first"
            raise RuntimeError(msg)
        self._transport.receive(message)


def _nothing() -> None:
    return None
