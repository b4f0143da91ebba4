"""Raising KeyboardInterrupt in another thread, never in a thread that is half started.

While a thread starts another, CPython 3.11 gives the new thread's state the starter's id
until the new thread runs, and ``PyThreadState_SetAsyncExc`` marks the first state with that
id: the new thread's. It dies before it signals that it started, and the starter waits for it
forever. So thread starts are tracked (the kernel wraps ``Thread.start`` with
:func:`start_guarded`), and an interrupt that finds its thread inside a start is handed to that
start, which raises it in its own thread once the new thread is running.
"""

from __future__ import annotations

import ctypes
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["raise_in_thread", "start_guarded"]

_state_lock = threading.RLock()
"""Guards the two sets; reentrant for a SIGINT handler that runs inside a start."""
_starting: set[int] = set()
"""Threads (by ident) inside ``Thread.start``."""
_deferred: set[int] = set()
"""Threads whose interrupt waits for their start to end."""


def raise_in_thread(thread: threading.Thread) -> None:
    """Raise KeyboardInterrupt in ``thread`` at its next bytecode (any other thread)."""
    ident = thread.ident
    if ident is None:
        return
    with _state_lock:
        if ident in _starting:
            _deferred.add(ident)
            return
        # Not starting, and it cannot begin a start while we hold the lock.
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(ident), ctypes.py_object(KeyboardInterrupt)
        )


def start_guarded(thread: threading.Thread, start: Callable[[threading.Thread], None]) -> None:
    """Run ``start(thread)`` so that no interrupt lands in it; raise one that came meanwhile."""
    ident = threading.get_ident()
    with _state_lock:
        _starting.add(ident)
    try:
        start(thread)
    finally:
        with _state_lock:
            _starting.discard(ident)
            interrupted = ident in _deferred
            _deferred.discard(ident)
    if interrupted:
        raise KeyboardInterrupt
