"""Whether this interpreter can start threads.

Pyodide (CPython compiled to WebAssembly, in a browser or Node) has no threads:
``Thread.start`` raises ``RuntimeError``. There a `Caller` falls back to tasks: `Caller.start_new`
hosts the new caller in a task of the current thread's loop, and `Caller.to_thread` runs the
function as a task of the current thread's caller (a plain function then blocks that loop
while it runs). Tests can switch the fallback on in CPython with `set_threads_available`.
"""

from __future__ import annotations

import sys

__all__ = ["set_threads_available", "threads_available"]

_NO_THREADS_PLATFORMS = frozenset({"emscripten", "wasi"})

_override: bool | None = None


def threads_available() -> bool:
    """Whether callers may start threads (False in Pyodide, or when switched off)."""
    if _override is not None:
        return _override
    return sys.platform not in _NO_THREADS_PLATFORMS


def set_threads_available(available: bool | None) -> None:
    """Force whether callers may start threads; ``None`` goes back to detecting it.

    Meant for tests and for hosts that run Python where threads exist but must not be used.
    Callers and worker threads already started are not affected.
    """
    global _override
    _override = available
