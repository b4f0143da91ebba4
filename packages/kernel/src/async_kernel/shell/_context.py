"""Context variables that tie output, input and names to the request that caused them.

A handler sets :data:`current_request` and :data:`current_subshell` for its own task; tasks
that a cell starts copy the context and so inherit both, and
:func:`install_thread_context_inheritance` makes threads that a cell starts inherit them too.
Output from any other thread falls back to the last request seen; its names are the main
shell's.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from ..runtime._async_exc import start_guarded

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..handlers._subshells import Subshell
    from ..messaging._message import Message

__all__ = [
    "current_request",
    "current_subshell",
    "install_thread_context_inheritance",
]

current_request: ContextVar[Message | None] = ContextVar("async_kernel_request", default=None)
"""The request whose handling (or cell) the current code runs for."""

current_subshell: ContextVar[Subshell | None] = ContextVar("async_kernel_subshell", default=None)
"""The subshell whose namespace the current code uses; None for the main shell."""

_installed = False


def install_thread_context_inheritance() -> None:
    """Make new threads start with the starting thread's request and subshell.

    Thread starts are also guarded so that an interrupt never lands in a thread that is half
    started (see ``_async_exc``).

    Only these two variables are carried over, so threads behave as they always do otherwise.
    Called once at kernel start; the kernel owns its process, so patching Thread is fine.
    """
    global _installed
    if _installed:
        return
    _installed = True
    original_start: Callable[[threading.Thread], None] = threading.Thread.start
    original_bootstrap: Callable[[threading.Thread], None] = threading.Thread._bootstrap_inner  # pyright: ignore[reportAttributeAccessIssue]

    def start(self: threading.Thread) -> None:
        request, subshell = current_request.get(), current_subshell.get()
        if request is not None or subshell is not None:
            self._async_kernel_context = (request, subshell)  # pyright: ignore[reportAttributeAccessIssue]
        start_guarded(self, original_start)

    def bootstrap_inner(self: threading.Thread) -> None:
        inherited: Any = getattr(self, "_async_kernel_context", None)
        if inherited is not None:
            current_request.set(inherited[0])
            current_subshell.set(inherited[1])
        original_bootstrap(self)

    threading.Thread.start = start
    threading.Thread._bootstrap_inner = bootstrap_inner  # pyright: ignore[reportAttributeAccessIssue]
