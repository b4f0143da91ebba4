"""Context variables that tie output, input and names to the request that caused them.

A handler sets :data:`current_request` (and the shell's ``current_subshell``) for its own
task; tasks that a cell starts copy the context and so inherit them, and
:func:`inherit_in_new_threads` makes threads that a cell starts inherit them too. Output
from any other thread falls back to the last request seen.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from ._async_exc import start_guarded

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from ..messaging._message import Message

__all__ = ["current_request", "inherit_in_new_threads"]

current_request: ContextVar[Message | None] = ContextVar("async_kernel_request", default=None)
"""The request whose handling (or cell) the current code runs for."""

_inherited: tuple[ContextVar[Any], ...] = ()
_originals: tuple[Callable[[threading.Thread], None], Callable[[threading.Thread], None]] | None = (
    None
)


def inherit_in_new_threads(variables: Iterable[ContextVar[Any]]) -> None:
    """Make new threads start with the starting thread's values of ``variables``.

    Thread starts are also guarded so that an interrupt never lands in a thread that is half
    started (see ``_async_exc``). Only these variables are carried over, so threads behave as
    they always do otherwise. The kernel calls it when it starts serving and
    :func:`restore_threads` when it stops, so kernels in one process (tests) do not leak
    into each other.
    """
    global _inherited, _originals
    _inherited = tuple(variables)
    if _originals is not None:
        return
    original_start: Callable[[threading.Thread], None] = threading.Thread.start
    original_bootstrap: Callable[[threading.Thread], None] = threading.Thread._bootstrap_inner  # pyright: ignore[reportAttributeAccessIssue]
    _originals = (original_start, original_bootstrap)

    def start(self: threading.Thread) -> None:
        values = [(variable, variable.get(None)) for variable in _inherited]
        if any(value is not None for _, value in values):
            self._async_kernel_context = values  # pyright: ignore[reportAttributeAccessIssue]
        start_guarded(self, original_start)

    def bootstrap_inner(self: threading.Thread) -> None:
        inherited: Any = getattr(self, "_async_kernel_context", None)
        if inherited is not None:
            for variable, value in inherited:
                variable.set(value)
        original_bootstrap(self)

    threading.Thread.start = start
    threading.Thread._bootstrap_inner = bootstrap_inner  # pyright: ignore[reportAttributeAccessIssue]


def restore_threads() -> None:
    """Undo :func:`inherit_in_new_threads` (the kernel stopped)."""
    global _originals, _inherited
    if _originals is None:
        return
    threading.Thread.start, threading.Thread._bootstrap_inner = _originals  # pyright: ignore[reportAttributeAccessIssue]
    _originals, _inherited = None, ()
