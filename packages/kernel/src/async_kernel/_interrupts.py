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
handler waits until the call returns; the signal watcher (``_signal_watch``) sends it again.
A signal can then be handled twice: a SIGINT this controller sent (or a copy of one) stops
only the main-thread cells that were asked to stop, never one that started in between.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import queue
import signal
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._async_exc import raise_in_thread
from ._signal_watch import SignalWatcher

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import CoroutineType, FrameType

    from ._shell import CellState

__all__ = ["InterruptController", "RunningCell"]

log = logging.getLogger(__name__)

"""Seconds between SIGINTs to a blocked main thread whose handler has not run yet."""


@dataclass(slots=True, eq=False)
class RunningCell:
    """A cell that an interrupt should reach."""

    state: CellState
    thread: threading.Thread
    coroutine: CoroutineType[Any, Any, Any] | None
    cancel: Callable[[], object]
    """Cancels the cell in its own event loop; callable from any thread."""


_MAIN_THREAD_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


def _keep_signals_for_the_main_thread() -> None:
    """Make every thread started from now on block SIGINT and SIGTERM.

    Python runs signal handlers in the main thread, but the OS delivers a signal sent to the
    process to any thread that does not block it. Delivered elsewhere, it does not break the
    main thread's blocking call (a cell in ``time.sleep``), and the handler waits for that
    call to end. A thread inherits the signal mask of the thread that starts it, so the mask
    is set for the moment ``Thread.start`` creates it.
    """
    original_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, _MAIN_THREAD_SIGNALS)
        try:
            original_start(self)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    threading.Thread.start = start


class InterruptController:
    """Keeps the running cells and interrupts them on request or on SIGINT."""

    def __init__(self) -> None:
        self._cells: set[RunningCell] = set()
        # Reentrant: the SIGINT handler takes it in the main thread, which may hold it already.
        self._lock = threading.RLock()
        self._main_thread = threading.main_thread()
        self._main_only_signals = 0
        """SIGINTs this controller sent itself, which target the main thread's cells only."""
        self._wakers: list[Callable[[], object]] = []
        self.signal_watcher = SignalWatcher(self._resend_wanted)
        """Makes sure SIGINT and SIGTERM reach their handlers; see ``_signal_watch``."""
        self._deferred: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()

    def add_waker(self, wake: Callable[[], object]) -> None:
        """Call ``wake`` after each interrupt (from the interrupting thread).

        A ``KeyboardInterrupt`` raised in a worker thread only fires when that thread runs
        Python code again; a thread blocked on a lock (a cell waiting in ``input()``) has to
        be woken by whoever owns the lock. ``wake`` does that.
        """
        self._wakers.append(wake)

    def install_signal_handler(self) -> None:
        """Route SIGINT to the running cells (main thread only, once at start)."""
        _keep_signals_for_the_main_thread()
        threading.Thread(
            target=self._run_deferred, name="async-kernel-signals", daemon=True
        ).start()
        signal.signal(signal.SIGINT, self._on_sigint)

    def watch_signals(self) -> None:
        """Start the signal watcher (main thread, once the event loop runs)."""
        self.signal_watcher.start()

    def _resend_wanted(self, signum: int) -> bool:
        """Whether the watcher should send ``signum`` again (watcher thread).

        A resent SIGINT may be handled besides a late original: when the outstanding one
        is this controller's, the copy is counted as ours too, so that it stops only the
        cells that were asked to stop.
        """
        if signum != signal.SIGINT:
            return True
        with self._lock:
            if not any(cell.thread is self._main_thread for cell in self._cells):
                return False
            if self._main_only_signals:
                self._main_only_signals += 1
            return True

    def defer_from_signal_handler(self, func: Callable[[], object]) -> None:
        """Run ``func`` soon in a helper thread; safe to call from a signal handler.

        A signal handler interrupts the main thread anywhere, maybe inside the event loop's
        ``select`` or holding a lock: a callback it schedules in that loop would wait until
        something else wakes the loop, and taking a lock could deadlock. ``SimpleQueue.put``
        is reentrant, so the handler hands the work over instead. Needs
        :meth:`install_signal_handler` to have started the helper thread.
        """
        self._deferred.put(func)

    def _run_deferred(self) -> None:
        while True:
            func = self._deferred.get()
            try:
                func()
            except Exception:
                log.exception("work deferred from a signal handler failed")

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
            if in_main_signal_handler:
                # From another thread, so the cancel wakes the loop (see defer_...).
                self.defer_from_signal_handler(cell.cancel)
            else:
                cell.cancel()
        elif cell.thread is self._main_thread:
            if in_main_signal_handler:
                raise KeyboardInterrupt
            with self._lock:
                self._send_main_sigint()
        else:
            # Only while the cell is registered: its thread unregisters it under this lock,
            # so the exception lands in the cell or the handler around it, never in the
            # event loop after it (which would kill that shell's loop).
            with self._lock:
                if cell in self._cells:
                    raise_in_thread(cell.thread)

    def _send_main_sigint(self) -> None:
        """SIGINT the main thread for its cells only (call with the lock held)."""
        self._main_only_signals += 1
        signal.pthread_kill(self._main_thread.ident or 0, signal.SIGINT)

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        del frame
        self.signal_watcher.acknowledge(signum)
        with self._lock:
            cells = list(self._cells)
            if self._main_only_signals:
                # One this controller sent: it is for the main-thread cells asked to stop. A
                # resend that lands late must not stop the cell that has started since.
                self._main_only_signals -= 1
                cells = [
                    cell
                    for cell in cells
                    if cell.thread is self._main_thread and cell.state.interrupted
                ]
        self._interrupt_from_signal_handler(cells)

    def interrupt_from_signal_handler(self) -> None:
        """Interrupt every running cell from a signal handler running in the main thread.

        Raises:
            KeyboardInterrupt: a cell runs in the main thread; raised here, it ends that cell.

        Another signal handler (SIGTERM's) calls this rather than :meth:`interrupt`: the
        SIGINT that :meth:`interrupt` sends the main thread would arrive while the main
        thread still runs that handler, after Python checked for SIGINT, and wait unseen
        until the blocking call the main thread returns to ends.
        """
        with self._lock:
            cells = list(self._cells)
        self._interrupt_from_signal_handler(cells)

    def _interrupt_from_signal_handler(self, cells: list[RunningCell]) -> None:
        # Other threads first: raising in the main thread ends this handler.
        cells.sort(key=lambda cell: cell.thread is self._main_thread)
        self.defer_from_signal_handler(self._wake)
        for cell in cells:
            self._interrupt(cell, in_main_signal_handler=True)
