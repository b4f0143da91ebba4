"""Interrupting running cells, whether they block their thread or await.

A cell that is suspended at an ``await`` is cancelled in its own event loop. A cell whose code
is running (blocked in ``time.sleep``, a pure-Python loop or ``input()``) gets a
``KeyboardInterrupt`` raised in it: in the main thread from a signal handler (a signal also
ends a blocking system call), in other threads through ``PyThreadState_SetAsyncExc``.

Which of the two applies is read from the cell's coroutine: it is suspended exactly while it
awaits; one not yet started counts as running, since it may never reach an await. For the main
thread the choice is made in the signal handler itself, where the coroutine cannot change
state under it. Both ``interrupt_request`` (any thread) and a SIGINT sent to the process end
up here.

The kernel reaches its own main-thread cells with a signal of its own (:data:`INTERRUPT_SIGNAL`),
never SIGINT: each main-thread cell is owed at most one ``KeyboardInterrupt`` per request, the
handler pays it and clears the debt, and a late or repeated copy of the signal finds nothing
owed, so it cannot stop a cell that started since. A signal whose handler has not run is sent
again (``_signal_watch``): it may have landed just before the main thread entered a blocking
call, which it then does not end.

No ``KeyboardInterrupt`` is raised while a thread runs the import system's own code: it would
leave a module lock held (every later import of that module hangs) or be swallowed in a
weakref callback. The interrupt waits a few milliseconds and tries again.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import queue
import signal
import sys
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ._async_exc import raise_in_thread
from ._signal_watch import SignalWatcher

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import CoroutineType, FrameType

    from ..messaging._message import Message

__all__ = [
    "INTERRUPT_SIGNAL",
    "CellState",
    "InnerLoopInterrupt",
    "InterruptController",
    "RunningCell",
    "current_cell",
]

log = logging.getLogger(__name__)

INTERRUPT_SIGNAL: int = signal.SIGRTMIN + 7 if hasattr(signal, "SIGRTMIN") else signal.SIGUSR2
"""The signal the kernel sends its own main thread to interrupt a cell there."""

RETRY_AFTER = 0.005
"""Seconds to wait before trying again to interrupt a thread that runs the import system."""

CANCEL_GRACE = 0.05
"""Seconds between checks that a worker's cancelled cell did not resume into blocking code."""

REDIRECT_GRACE = 0.3
"""Seconds an inner event loop gets to take an interrupt before its thread is interrupted,
if its thread runs code other than the loop's own by then (the loop is blocked)."""

REDIRECT_LIMIT = 5.0
"""Seconds after which the thread is interrupted even if it seems to run the loop's own code."""

_MAIN_THREAD_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


@dataclass(slots=True)
class CellState:
    """What the kernel tracks while one cell runs: its error and whether it was interrupted."""

    request: Message
    execution_count: int
    error: dict[str, Any] | None = None
    interrupted: bool = False
    cancelled_exc_class: type[BaseException] | None = None
    payload: list[dict[str, Any]] = field(default_factory=list)


current_cell: ContextVar[CellState | None] = ContextVar("async_kernel_cell", default=None)
"""The cell the current code runs in, if any."""


@dataclass(slots=True, eq=False)
class RunningCell:
    """A cell that an interrupt should reach."""

    state: CellState
    thread: threading.Thread
    coroutine: CoroutineType[Any, Any, Any] | None
    cancel: Callable[[], object]
    """Cancels the cell in its own event loop; callable from any thread."""
    cancel_landed: Callable[[], bool]
    """Whether the cancel has run in the cell's event loop; callable from any thread."""
    owed: bool = False
    """A main-thread cell only: a ``KeyboardInterrupt`` was asked for and not raised yet."""
    redirect: InnerLoopInterrupt | None = None
    """While the cell's code runs an event loop of its own: interrupts go to that loop."""


class InnerLoopInterrupt(Protocol):
    """Stops the event loop a cell's code runs itself (``asyncio.run`` in a cell)."""

    def interrupt(self) -> bool:
        """Ask the loop to stop with KeyboardInterrupt (any thread); False if none runs."""
        ...

    def landed(self) -> bool:
        """Whether the loop has run the request (it was not blocked)."""
        ...

    def in_loop_code(self) -> bool:
        """Whether the loop's thread runs the loop's own code (it will take the request soon)."""
        ...


def _in_import_system(frame: FrameType | None) -> bool:
    """Whether ``frame`` (where an exception would be raised) is the import system's code."""
    return frame is not None and frame.f_code.co_filename.startswith("<frozen importlib")


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
        # Reentrant: a signal handler takes it in the main thread, which may hold it already.
        self._lock = threading.RLock()
        self._main_thread = threading.main_thread()
        self._wakers: list[Callable[[], object]] = []
        self._signal_handlers_installed = False
        self.signal_watcher = SignalWatcher(
            {signal.SIGTERM, INTERRUPT_SIGNAL},
            self._resend_wanted,
            kicks={signal.SIGINT: INTERRUPT_SIGNAL},
        )
        """Makes sure SIGTERM, SIGINT and the kernel's own interrupts reach their handlers."""
        self._deferred: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()

    def add_waker(self, wake: Callable[[], object]) -> None:
        """Call ``wake`` after each interrupt (from the interrupting thread).

        A ``KeyboardInterrupt`` raised in a worker thread only fires when that thread runs
        Python code again; a thread blocked on a lock (a cell waiting in ``input()``) has to
        be woken by whoever owns the lock. ``wake`` does that.
        """
        self._wakers.append(wake)

    def install_signal_handler(self) -> None:
        """Route SIGINT and the kernel's interrupt signal to the cells (main thread, once)."""
        _keep_signals_for_the_main_thread()
        threading.Thread(
            target=self._run_deferred, name="async-kernel-signals", daemon=True
        ).start()
        signal.signal(signal.SIGINT, self._on_sigint)
        signal.signal(INTERRUPT_SIGNAL, self._on_interrupt_signal)
        self._signal_handlers_installed = True

    def watch_signals(self) -> None:
        """Start the signal watcher (main thread, once the event loop runs)."""
        self.signal_watcher.start()

    def _resend_wanted(self, signum: int) -> bool:
        """Whether the watcher should send ``signum`` (or its kick) again (watcher thread)."""
        if signum == INTERRUPT_SIGNAL:
            return self._owes_main_thread()
        if signum == signal.SIGINT:
            # Only a cell in the main thread can hold its handler back: the idle event loop
            # wakes on the signal by itself.
            with self._lock:
                return any(cell.thread is self._main_thread for cell in self._cells)
        return True

    def _owes_main_thread(self) -> bool:
        with self._lock:
            return any(cell.owed for cell in self._cells)

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
        cancel_landed: Callable[[], bool],
    ) -> Iterator[RunningCell]:
        """Register a cell as interruptible while the block runs (the cell's own thread)."""
        cell = RunningCell(state, threading.current_thread(), coroutine, cancel, cancel_landed)
        with self._lock:
            self._cells.add(cell)
        try:
            yield cell
        finally:
            with self._lock:
                self._cells.discard(cell)

    def redirect(self, state: CellState, redirect: InnerLoopInterrupt) -> Callable[[], None]:
        """Send the interrupts of the cell ``state`` to an inner loop; returns the undo.

        Called from the cell's thread while its code runs an event loop of its own.
        """
        with self._lock:
            cells = [cell for cell in self._cells if cell.state is state]
            for cell in cells:
                cell.redirect = redirect

        def undo() -> None:
            with self._lock:
                for cell in cells:
                    if cell.redirect is redirect:
                        cell.redirect = None

        return undo

    def _redirected(self, cell: RunningCell) -> bool:
        """Interrupt the inner loop of ``cell`` if it runs one; watch that it stops (any thread)."""
        redirect = cell.redirect
        if redirect is None or not redirect.interrupt():
            return False
        threading.Thread(
            target=self._see_redirect_land,
            args=(cell, redirect),
            name="async-kernel-interrupt",
        ).start()
        return True

    def _redirect_or_interrupt(self, cell: RunningCell) -> None:
        """Interrupt the inner loop of ``cell``, or the cell itself if none runs (helper thread)."""
        if self._redirected(cell):
            return
        if cell.thread is self._main_thread:
            with self._lock:
                if cell in self._cells:
                    cell.owed = True
                    self._signal_main_thread()
        else:
            self._interrupt_worker(cell)

    def _see_redirect_land(self, cell: RunningCell, redirect: InnerLoopInterrupt) -> None:
        """Interrupt the thread itself if the inner loop does not take the interrupt.

        Polls (own thread): an inner loop whose code blocks never runs the request, and an
        exception raised in the thread is then the only way in. After ``REDIRECT_GRACE``
        seconds the thread is interrupted if it runs other code than the loop's own (a busy
        machine can make an idle loop slow to wake; an exception raised inside trio's own code
        would break the run), after ``REDIRECT_LIMIT`` seconds in any case. The check ends
        early if the cell ends, the request lands, or the inner loop ended first (the section
        is over: the cell's own code runs).
        """
        waited = 0.0
        while waited < REDIRECT_LIMIT:
            time.sleep(CANCEL_GRACE)
            waited += CANCEL_GRACE
            with self._lock:
                if cell not in self._cells or redirect.landed():
                    return
                if cell.redirect is not redirect:
                    break
            if waited >= REDIRECT_GRACE and not redirect.in_loop_code():
                break
        if cell.thread is self._main_thread and self._signal_handlers_installed:
            with self._lock:
                if cell not in self._cells:
                    return
                cell.owed = True
                self._signal_main_thread()
        else:
            self._interrupt_worker(cell)

    @property
    def busy(self) -> bool:
        """Whether any cell is running."""
        return bool(self._cells)

    def interrupt(self, which: Callable[[RunningCell], bool] | None = None) -> int:
        """Interrupt every running cell, or those ``which`` picks (any thread).

        Returns:
            How many cells were interrupted.
        """
        signalled = self._signal_handlers_installed
        with self._lock:
            cells = [cell for cell in self._cells if which is None or which(cell)]
            for cell in cells:
                cell.state.interrupted = True
            redirected = [cell for cell in cells if cell.redirect is not None]
        total = len(cells)
        # A cell whose code runs an event loop of its own: that loop is stopped instead.
        cells = [cell for cell in cells if cell not in redirected or not self._redirected(cell)]
        with self._lock:
            main_cells = [cell for cell in cells if cell.thread is self._main_thread]
            if signalled and main_cells:
                for cell in main_cells:
                    cell.owed = True
                self._signal_main_thread()
        for cell in cells:
            # Without its handler, the signal would end the process (an embedded kernel that
            # never installed it): the main thread's cells are then reached like the others'.
            if cell.thread is not self._main_thread or not signalled:
                self._interrupt_worker(cell)
        self._wake()
        return total

    def _wake(self) -> None:
        for wake in self._wakers:
            try:
                wake()
            except Exception:
                log.exception("waking threads after an interrupt failed")

    def _signal_main_thread(self) -> None:
        signal.pthread_kill(self._main_thread.ident or 0, INTERRUPT_SIGNAL)

    # --- cells in other threads (any thread but theirs) ---------------------------------------

    def _interrupt_worker(self, cell: RunningCell) -> None:
        state = _coroutine_state(cell)
        if state == inspect.CORO_CLOSED:
            return
        if state == inspect.CORO_SUSPENDED:
            cell.cancel()
            threading.Thread(
                target=self._see_cancel_land, args=(cell,), name="async-kernel-interrupt"
            ).start()
            return
        with self._lock:
            # Only while the cell is registered: its thread unregisters it under this lock,
            # so the exception lands in the cell or the handler around it, never in the
            # event loop after it (which would kill that shell's loop).
            if cell not in self._cells:
                return
            frame = sys._current_frames().get(cell.thread.ident or 0)
            if not _in_import_system(frame):
                raise_in_thread(cell.thread)
                return
        self.defer_from_signal_handler(lambda: self._retry_worker(cell))

    def _see_cancel_land(self, cell: RunningCell) -> None:
        """Interrupt a worker's cell as running code if it resumed before its cancel ran.

        The cell awaited when it was cancelled, but it may have resumed meanwhile and run
        blocking code: its event loop then runs the cancel only after the cell ends. Polls
        (own thread) until the cell ends, the cancel runs, or the cell is found running.
        """
        while True:
            time.sleep(CANCEL_GRACE)
            with self._lock:
                if cell not in self._cells or cell.cancel_landed():
                    return
            if _coroutine_state(cell) == inspect.CORO_RUNNING:
                self._interrupt_worker(cell)
                return

    def _retry_worker(self, cell: RunningCell) -> None:
        """Try again to interrupt a worker that was in the import system (helper thread)."""
        time.sleep(RETRY_AFTER)
        self._interrupt_worker(cell)

    # --- the main thread's cells (signal handlers, main thread) -------------------------------

    def _on_interrupt_signal(self, signum: int, frame: FrameType | None) -> None:
        """Pay what the main thread's cells are owed (the kernel's own interrupt signal)."""
        self.signal_watcher.acknowledge(signum)
        with self._lock:
            owed = [cell for cell in self._cells if cell.owed]
        self._pay_main_thread_cells(owed, frame)

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        """A SIGINT sent to the process: interrupt every running cell."""
        self.signal_watcher.acknowledge(signum)
        self.interrupt_from_signal_handler(frame)

    def interrupt_from_signal_handler(self, frame: FrameType | None) -> None:
        """Interrupt every running cell from a signal handler running in the main thread.

        Raises:
            KeyboardInterrupt: a cell runs in the main thread; raised here, it ends that cell.

        Another signal handler (SIGTERM's) calls this rather than :meth:`interrupt`: a signal
        that :meth:`interrupt` sends the main thread would arrive while the main thread still
        runs that handler, after Python checked for signals, and wait unseen until the
        blocking call the main thread returns to ends. ``frame`` is the handler's.
        """
        with self._lock:
            redirected = [cell for cell in self._cells if cell.redirect is not None]
            cells = [cell for cell in self._cells if cell.redirect is None]
            for cell in (*cells, *redirected):
                cell.state.interrupted = True
            for cell in cells:
                if cell.thread is self._main_thread:
                    cell.owed = True
        self.defer_from_signal_handler(self._wake)
        for cell in redirected:
            self.defer_from_signal_handler(lambda cell=cell: self._redirect_or_interrupt(cell))
        for cell in cells:
            if cell.thread is not self._main_thread:
                self.defer_from_signal_handler(lambda cell=cell: self._interrupt_worker(cell))
        self._pay_main_thread_cells(
            [cell for cell in cells if cell.thread is self._main_thread], frame
        )

    def _pay_main_thread_cells(self, cells: list[RunningCell], frame: FrameType | None) -> None:
        # Cancel the awaiting cells first: raising for the running one ends this handler.
        by_state = [(cell, _coroutine_state(cell)) for cell in cells]
        by_state.sort(key=lambda item: item[1] != inspect.CORO_SUSPENDED)
        for cell, state in by_state:
            if state == inspect.CORO_CLOSED:
                cell.owed = False
            elif state == inspect.CORO_SUSPENDED:
                cell.owed = False
                # From another thread, so the cancel wakes the loop (see defer_...).
                self.defer_from_signal_handler(cell.cancel)
            elif _in_import_system(frame):
                self.defer_from_signal_handler(self._retry_main_thread)
                return
            else:
                cell.owed = False
                raise KeyboardInterrupt

    def _retry_main_thread(self) -> None:
        """Signal the main thread again while a cell there is owed an interrupt (helper)."""
        time.sleep(RETRY_AFTER)
        if self._owes_main_thread():
            self._signal_main_thread()


def _coroutine_state(cell: RunningCell) -> str:
    # CORO_CREATED: the cell is about to start and may never reach an await, so it is
    # interrupted like running code (the execute handler catches it before start).
    coroutine = cell.coroutine
    return inspect.CORO_CREATED if coroutine is None else inspect.getcoroutinestate(coroutine)
