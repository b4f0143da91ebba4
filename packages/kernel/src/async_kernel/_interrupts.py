"""Interrupting running cells, whether they block their thread or await.

A cell that is suspended at an ``await`` is cancelled in its own event loop. A cell whose code
is running (blocked in ``time.sleep``, a pure-Python loop or ``input()``) gets a
``KeyboardInterrupt`` raised in it: in the main thread through SIGINT (a signal also ends a
blocking system call), in other threads through ``PyThreadState_SetAsyncExc``.

Which of the two applies is read from the cell's coroutine: it is suspended exactly while it
awaits; one not yet started counts as running, since it may never reach an await. The SIGINT
handler re-reads it in the main thread, so a cell that suspends between the check and the signal is still cancelled.
Both ``interrupt_request`` (any thread) and a SIGINT sent to the process end up here.

CPython runs a signal's handler between bytecodes of the main thread. A SIGINT that lands just
before the main thread enters a blocking call (``time.sleep``) does not end that call, and its
handler waits until the call returns; so the controller sends SIGINT again every
:data:`RESEND_INTERVAL` until the handler has run or the cell has ended.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import signal
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._async_exc import raise_in_thread

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import CoroutineType, FrameType

    from ._shell import CellState

__all__ = ["InterruptController", "RunningCell"]

log = logging.getLogger(__name__)

RESEND_INTERVAL = 0.05
"""Seconds between SIGINTs to a blocked main thread whose handler has not run yet."""


@dataclass(slots=True, eq=False)
class RunningCell:
    """A cell that an interrupt should reach."""

    state: CellState
    thread: threading.Thread
    coroutine: CoroutineType[Any, Any, Any] | None
    cancel: Callable[[], object]
    """Cancels the cell in its own event loop; callable from any thread."""


class InterruptController:
    """Keeps the running cells and interrupts them on request or on SIGINT."""

    def __init__(self) -> None:
        self._cells: set[RunningCell] = set()
        # Reentrant: the SIGINT handler takes it in the main thread, which may hold it already.
        self._lock = threading.RLock()
        self._handled = threading.Condition(self._lock)
        self._handled_signals = 0
        """How many times the SIGINT handler has run; what the resender waits for."""
        self._main_thread = threading.main_thread()
        self._main_only_signals = 0
        """SIGINTs this controller sent itself, which target the main thread's cells only."""
        self._wakers: list[Callable[[], object]] = []

    def add_waker(self, wake: Callable[[], object]) -> None:
        """Call ``wake`` after each interrupt (from the interrupting thread).

        A ``KeyboardInterrupt`` raised in a worker thread only fires when that thread runs
        Python code again; a thread blocked on a lock (a cell waiting in ``input()``) has to
        be woken by whoever owns the lock. ``wake`` does that.
        """
        self._wakers.append(wake)

    def install_signal_handler(self) -> None:
        """Route SIGINT to the running cells (main thread only, once at start)."""
        signal.signal(signal.SIGINT, self._on_sigint)

    @contextlib.contextmanager
    def running(
        self,
        state: CellState,
        coroutine: CoroutineType[Any, Any, Any] | None,
        cancel: Callable[[], object],
    ) -> Iterator[RunningCell]:
        """Register a cell as interruptible while the block runs (the cell's own thread)."""
        cell = RunningCell(state, threading.current_thread(), coroutine, cancel)
        with self._lock:
            self._cells.add(cell)
        try:
            yield cell
        finally:
            with self._lock:
                self._cells.discard(cell)
                if not self._cells:
                    self._main_only_signals = 0  # left over from coalesced resends
                self._handled.notify_all()

    @property
    def busy(self) -> bool:
        """Whether any cell is running."""
        return bool(self._cells)

    def interrupt(self, which: Callable[[RunningCell], bool] | None = None) -> int:
        """Interrupt every running cell, or those ``which`` picks (any thread).

        Returns:
            How many cells were interrupted.
        """
        with self._lock:
            cells = [cell for cell in self._cells if which is None or which(cell)]
        for cell in cells:
            self._interrupt(cell, in_main_signal_handler=False)
        self._wake()
        return len(cells)

    def _wake(self) -> None:
        for wake in self._wakers:
            try:
                wake()
            except Exception:
                log.exception("waking threads after an interrupt failed")

    def _interrupt(self, cell: RunningCell, *, in_main_signal_handler: bool) -> None:
        cell.state.interrupted = True
        coroutine = cell.coroutine
        # CORO_CREATED: the cell is about to start and may never reach an await, so it is
        # interrupted like running code (the execute handler catches it before start).
        state = None if coroutine is None else inspect.getcoroutinestate(coroutine)
        if state == inspect.CORO_CLOSED:
            return
        if state == inspect.CORO_SUSPENDED:
            cell.cancel()
        elif cell.thread is self._main_thread:
            if in_main_signal_handler:
                raise KeyboardInterrupt
            with self._lock:
                handled_before = self._handled_signals
                self._send_main_sigint()
            threading.Thread(
                target=self._resend_until_handled,
                args=(cell, handled_before),
                name="async-kernel-interrupt",
                daemon=True,
            ).start()
        else:
            raise_in_thread(cell.thread)

    def _send_main_sigint(self) -> None:
        """SIGINT the main thread for its cells only (call with the lock held)."""
        self._main_only_signals += 1
        signal.pthread_kill(self._main_thread.ident or 0, signal.SIGINT)

    def _resend_until_handled(self, cell: RunningCell, handled_before: int) -> None:
        """Send SIGINT again until the handler has run or ``cell`` ended (its own thread)."""
        with self._lock:
            while not self._handled.wait_for(
                lambda: self._handled_signals != handled_before or cell not in self._cells,
                timeout=RESEND_INTERVAL,
            ):
                self._send_main_sigint()

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        del signum, frame
        with self._lock:
            self._handled_signals += 1
            self._handled.notify_all()
            cells = list(self._cells)
            if self._main_only_signals:
                self._main_only_signals -= 1
                cells = [cell for cell in cells if cell.thread is self._main_thread]
        # Other threads first: raising in the main thread ends this handler.
        cells.sort(key=lambda cell: cell.thread is self._main_thread)
        woken = False
        for cell in cells:
            if cell.thread is self._main_thread and not woken:
                woken = True
                self._wake()
            self._interrupt(cell, in_main_signal_handler=True)
        if not woken:
            self._wake()
