"""Interrupts without threads or signals (Pyodide): cancel the cells that await.

With no threads, the kernel's one event loop runs every cell, so when an interrupt request is
handled no cell is running Python code: each is suspended at an ``await`` (or not started).
Cancelling them in that loop is all an interrupt can do. A cell that blocks (``time.sleep``,
a long loop) holds the loop, so the interrupt request itself waits until the cell ends; no
signal or other thread can reach it.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

from ._interrupts import InterruptController

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._interrupts import RunningCell

__all__ = ["TaskInterruptController"]


class TaskInterruptController(InterruptController):
    """Interrupts by cancelling awaiting cells; installs no signal handlers, starts no thread."""

    def install_signal_handler(self) -> None:
        """Nothing to install: there are no signals to route."""

    def watch_signals(self) -> None:
        """Nothing to watch: the kernel never signals itself here."""

    def interrupt(self, which: Callable[[RunningCell], bool] | None = None) -> int:
        """Cancel every running cell, or those ``which`` picks (the kernel's loop).

        Returns:
            How many cells were interrupted.
        """
        with self._lock:
            cells = [cell for cell in self._cells if which is None or which(cell)]
            for cell in cells:
                cell.state.interrupted = True
        for cell in cells:
            coroutine = cell.coroutine
            if coroutine is None or inspect.getcoroutinestate(coroutine) != inspect.CORO_CLOSED:
                cell.cancel()
        self._wake()
        return len(cells)
