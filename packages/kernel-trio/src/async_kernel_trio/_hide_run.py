"""Hiding the kernel's trio run from a cell that starts a trio run of its own.

``trio.run`` refuses to start in a thread whose trio run state is set, and that state is
trio's private ``GLOBAL_RUN_CONTEXT`` (a thread-local with the runner and the current task).
While a cell's synchronous code runs, the kernel's run in that thread is blocked, so the state
can be set aside for the inner run and put back after it. The names used here are trio's
private ones: a test fails on a trio newer than ``TESTED_UP_TO`` until the hook is checked
against it, and a trio that lacks them gets an error that says what to write instead.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["TESTED_UP_TO", "hide_trio_run"]

TESTED_UP_TO = "0.35"
"""The newest trio release this hook was checked against (its tests run on the installed one)."""


def _run_context() -> Any:
    from trio._core import _run

    return getattr(_run, "GLOBAL_RUN_CONTEXT", None)


@contextlib.contextmanager
def hide_trio_run() -> Iterator[None]:
    """Set aside this thread's trio run state for the block, and put it back after.

    Raises:
        RuntimeError: this trio keeps its run state elsewhere; the message says what to use.
    """
    context = _run_context()
    state = getattr(context, "__dict__", None)
    if not isinstance(state, dict) or "runner" not in state:
        import trio

        msg = (
            f"trio {trio.__version__} keeps its run state where async-kernel-trio does not "
            f"look (checked up to trio {TESTED_UP_TO}): trio.run cannot "
            "start in a cell on the trio backend. Write `await fn()` in the cell instead, or "
            "run it in a thread: `await trio.to_thread.run_sync(trio.run, fn)`."
        )
        raise RuntimeError(msg)
    saved = dict(state)
    state.clear()
    try:
        yield
    finally:
        state.clear()
        state.update(saved)
