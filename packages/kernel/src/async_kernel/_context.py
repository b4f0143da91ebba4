"""Context variables that tie output and input to the request that caused them.

A handler sets :data:`current_request` for its own task; tasks that a cell starts copy the
context and so inherit it, and :func:`install_thread_context_inheritance` makes threads that a
cell starts inherit it too. Output from any other thread falls back to the last request seen.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._message import Message

__all__ = ["current_request", "install_thread_context_inheritance"]

current_request: ContextVar[Message | None] = ContextVar("async_kernel_request", default=None)
"""The request whose handling (or cell) the current code runs for."""

_installed = False


def install_thread_context_inheritance() -> None:
    """Make new threads start with the starting thread's :data:`current_request`.

    Only this one variable is carried over, so threads behave as they always do otherwise.
    Called once at kernel start; the kernel owns its process, so patching Thread is fine.
    """
    global _installed
    if _installed:
        return
    _installed = True
    original_start: Callable[[threading.Thread], None] = threading.Thread.start
    original_bootstrap: Callable[[threading.Thread], None] = threading.Thread._bootstrap_inner  # pyright: ignore[reportAttributeAccessIssue]

    def start(self: threading.Thread) -> None:
        request = current_request.get()
        if request is not None:
            self._async_kernel_request = request  # pyright: ignore[reportAttributeAccessIssue]
        original_start(self)

    def bootstrap_inner(self: threading.Thread) -> None:
        request: Any = getattr(self, "_async_kernel_request", None)
        if request is not None:
            current_request.set(request)
        original_bootstrap(self)

    threading.Thread.start = start
    threading.Thread._bootstrap_inner = bootstrap_inner  # pyright: ignore[reportAttributeAccessIssue]
