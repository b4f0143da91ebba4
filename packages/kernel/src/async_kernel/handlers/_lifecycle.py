"""Small requests about the kernel itself: kernel_info, interrupt and shutdown (IO thread).

They run ``direct``, in the IO thread, so they are answered even while every shell is busy.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..messaging._message import PROTOCOL_VERSION

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..messaging._message import Message
    from ._protocols import Sender

__all__ = ["LifecycleHandler", "kernel_info"]


def kernel_info(backend: str, *, debugger: bool) -> dict[str, Any]:
    """The content of kernel_info_reply for a kernel on ``backend``."""
    version = ".".join(map(str, sys.version_info[:3]))
    return {
        "status": "ok",
        "protocol_version": PROTOCOL_VERSION,
        "implementation": "async_kernel",
        "implementation_version": __version__,
        "language_info": {
            "name": "python",
            "version": version,
            "mimetype": "text/x-python",
            "codemirror_mode": {"name": "ipython", "version": 3},
            "pygments_lexer": "ipython3",
            "nbconvert_exporter": "python",
            "file_extension": ".py",
        },
        "banner": f"Python {sys.version}\nasync-kernel {__version__} ({backend})",
        "help_links": [
            {"text": "Python Reference", "url": "https://docs.python.org/3/"},
            {"text": "IPython Reference", "url": "https://ipython.readthedocs.io/"},
        ],
        "debugger": debugger,
        "supported_features": ["kernel subshells", *(["debugger"] if debugger else [])],
    }


class LifecycleHandler:
    """kernel_info_request, interrupt_request and shutdown_request.

    Args:
        sender: where replies go.
        info: the kernel_info_reply content.
        interrupt: interrupts every running cell (resuming the debugger's threads first).
        shut_down: stops the kernel (``interrupt=False``: the cells were interrupted already).
    """

    def __init__(
        self,
        sender: Sender,
        info: dict[str, Any],
        interrupt: Callable[[], object],
        shut_down: Callable[[], object],
    ) -> None:
        self._sender = sender
        self._info = info
        self._interrupt = interrupt
        self._shut_down = shut_down

    def kernel_info_request(self, msg: Message) -> None:
        """Reply with the kernel's identity, language and features."""
        self._sender.reply(msg, "kernel_info_reply", self._info)

    def interrupt_request(self, msg: Message) -> None:
        """Interrupt every running cell, blocking or awaiting."""
        self._interrupt()
        self._sender.reply(msg, "interrupt_reply", {"status": "ok"})

    def shutdown_request(self, msg: Message) -> None:
        """Reply, then shut down; the client restarts the process when ``restart`` is true."""
        restart = bool(msg.content.get("restart", False))
        self._sender.reply(msg, "shutdown_reply", {"status": "ok", "restart": restart})
        self._shut_down()
