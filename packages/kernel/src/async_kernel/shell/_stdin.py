"""``input()`` and ``getpass`` through the stdin channel.

The cell's thread sends ``input_request`` to the frontend that sent the request (its ROUTER
identities) and blocks until the IO thread receives the matching ``input_reply``. The wait is
interruptible: an interrupt raises ``KeyboardInterrupt`` in the waiting cell.
"""

from __future__ import annotations

import builtins
import getpass
import os
import threading
from typing import TYPE_CHECKING, Any

from IPython.core.error import StdinNotImplementedError

from ..runtime._context import current_request

if TYPE_CHECKING:
    from ..messaging._message import Message
    from ..runtime._interrupts import InterruptController
    from ..runtime._outbox import Outbox

__all__ = ["StdinBridge"]


class _Waiter:
    __slots__ = ("event", "interrupted", "reply", "thread")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reply: dict[str, Any] | None = None
        self.interrupted = False
        self.thread = threading.current_thread()


class StdinBridge:
    """Asks the frontend for input on behalf of cells."""

    def __init__(self, outbox: Outbox, interrupts: InterruptController) -> None:
        self._outbox = outbox
        self._waiting: dict[str, _Waiter] = {}
        self._kernel_pid = os.getpid()
        interrupts.add_waker(self._wake_worker_threads)

    def install(self) -> None:
        """Replace ``input`` and ``getpass.getpass`` while the kernel serves (main thread)."""
        self._replaced = (builtins.input, getpass.getpass)
        builtins.input = self.input
        getpass.getpass = self.getpass

    def uninstall(self) -> None:
        """Put back what :meth:`install` replaced, so kernels in one process do not leak."""
        replaced = getattr(self, "_replaced", None)
        if replaced is not None and builtins.input == self.input:
            builtins.input, getpass.getpass = replaced

    def input(self, prompt: object = "") -> str:
        """Read a line from the frontend, like :func:`input` (blocks the calling thread)."""
        return self._request(str(prompt), password=False)

    def getpass(self, prompt: str = "Password: ", stream: object = None) -> str:
        """Read a password from the frontend without echo, like :func:`getpass.getpass`."""
        del stream
        return self._request(prompt, password=True)

    def _request(self, prompt: str, *, password: bool) -> str:
        request = current_request.get()
        if request is None or not request.content.get("allow_stdin", False):
            # ipykernel's words: tools and tests compare them.
            caller = "getpass" if password else "raw_input"
            msg = f"{caller} was called, but this frontend does not support input requests."
            raise StdinNotImplementedError(msg)
        if os.getpid() != self._kernel_pid:
            msg = "input() is not available in a process forked from the kernel"
            raise StdinNotImplementedError(msg)
        outbox = self._outbox
        outbox.flush_streams()
        header = outbox.input_header(request)
        waiter = _Waiter()
        self._waiting[header["msg_id"]] = waiter
        try:
            outbox.request_input(request, header, prompt, password=password)
            waiter.event.wait()
            if waiter.interrupted:
                # Normally the interrupt's own KeyboardInterrupt fires first, on waking.
                raise KeyboardInterrupt
        finally:
            del self._waiting[header["msg_id"]]
        reply = waiter.reply or {}
        value = reply.get("value", "")
        return value if isinstance(value, str) else str(value)

    def _wake_worker_threads(self) -> None:
        """Wake cells in worker threads waiting for input, so an interrupt reaches them.

        Cells in the main thread are left alone: SIGINT already breaks their wait.
        """
        main = threading.main_thread()
        for waiter in list(self._waiting.values()):
            if waiter.thread is not main:
                waiter.interrupted = True
                waiter.event.set()

    def on_message(self, msg: Message) -> None:
        """Deliver an ``input_reply`` to the cell waiting for it (IO thread)."""
        if msg.msg_type != "input_reply":
            return
        waiter = self._waiting.get(msg.parent_header.get("msg_id", ""))
        if waiter is None and self._waiting:
            # Some clients (jupyter_client's ``input()``) send the reply without a parent:
            # it answers the oldest question still open.
            waiter = next(iter(self._waiting.values()))
        if waiter is not None:
            waiter.reply = msg.content
            waiter.event.set()
