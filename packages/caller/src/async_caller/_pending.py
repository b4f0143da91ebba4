"""`Pending`: the result of a call, awaitable from any loop and waitable from any thread.

Design note: the state lives behind a tiny `threading.Lock` held only for a few field
updates, never while user code runs. Awaiting tasks sleep on an `aiologic.Event`, which works
from asyncio and trio loops alike; it is created only when a task actually has to wait. A
plain thread's `wait` sleeps on a lock of its own that completion releases: a bare lock
release costs ~3 µs, an `aiologic.Event` (or `threading.Event`) set with a thread waiting ~7
µs, and that time sits on every cross-thread call's round trip (measured on Linux, see
``benchmarks/caller``).
Cancelling a running call goes through a *canceller* (the `Caller` that runs it) which
delivers the cancellation into the owning loop; the Pending only records the request.
"""

from __future__ import annotations

import logging
import threading
from _thread import LockType, allocate_lock
from threading import TIMEOUT_MAX
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

import aiologic

from ._exceptions import (
    DeadlockError,
    InvalidStateError,
    PendingCancelledError,
    PendingTimeoutError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Generator

__all__ = ["Pending"]

T = TypeVar("T")

_logger = logging.getLogger("async_caller")

# States, in the order they can be reached.
_WAITING = 0  # created, not started
_RUNNING = 1  # started in a loop or thread
_FINISHED = 2  # has a result or an exception
_CANCELLED = 3  # cancelled (never started, or stopped by cancellation)


class _Canceller(Protocol):
    """Whatever runs a started call and can deliver a cancellation to it from any thread."""

    def cancel_running(self, handle: Any, msg: str | None, /) -> None: ...


class Pending(Generic[T]):
    """The outcome of a call that may not have finished yet; usable from any thread or loop.

    Returned by `Caller.call_soon` and friends, or created bare (``Pending()``) and completed
    with `set_result` / `set_exception` from any thread.

    * ``await pending`` works in any asyncio or trio loop in any thread, whichever loop or
      thread produces the result.
    * `wait` blocks a plain thread until the result is there.
    * `cancel` may be called from any thread: a call that has not started never runs, and a
      running call sees its own backend's cancellation at its next checkpoint.

    Cancelling the task that *awaits* a Pending does not cancel the Pending: other
    awaiters may still want it. Cancel the Pending itself for that.

    Done callbacks run in the thread that completes the Pending (the thread of the loop that
    ran the call, or whoever called `set_result`/`cancel`), or immediately in the thread that
    adds them if the Pending is already done. Keep them short and thread-safe.
    """

    __slots__ = (
        "__weakref__",
        "_callbacks",
        "_cancel_message",
        "_cancel_requested",
        "_canceller",
        "_event",
        "_exception",
        "_handle",
        "_lock",
        "_owner_thread",
        "_result",
        "_state",
        "_thread_waiters",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = _WAITING
        self._result: T | None = None
        self._exception: BaseException | None = None
        self._callbacks: list[Callable[[Pending[T]], object]] | None = None  # made on demand
        self._event: aiologic.Event | None = None
        self._thread_waiters: list[LockType] | None = None  # locks of threads in wait()
        self._canceller: _Canceller | None = None
        self._handle: Any = None
        self._cancel_requested = False
        self._cancel_message: str | None = None
        # The thread whose loop must run this call: a blocking wait there would deadlock.
        self._owner_thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = ("pending", "running", "finished", "cancelled")[self._state]
        if self._state == _FINISHED:
            if self._exception is not None:
                state += f" exception={self._exception!r}"
            else:
                state += f" result={self._result!r:.60}"
        return f"<{type(self).__qualname__} {state}>"

    # ------------------------------------------------------------------ queries

    def done(self) -> bool:
        """Return True if the Pending has a result, an exception or was cancelled.

        Safe from any thread.
        """
        return self._state >= _FINISHED

    def cancelled(self) -> bool:
        """Return True if the Pending was cancelled. Safe from any thread."""
        return self._state == _CANCELLED

    @property
    def cancel_message(self) -> str | None:
        """The message given to `cancel`, if any."""
        return self._cancel_message

    def result(self) -> T:
        """Return the result, or raise the call's exception.

        Safe from any thread; never blocks.

        Returns:
            The value the call returned (or that was passed to `set_result`).

        Raises:
            PendingCancelledError: If the Pending was cancelled.
            InvalidStateError: If the Pending is not done yet; `await` it or `wait` for it.
            BaseException: Whatever the call raised.
        """
        state = self._state
        if state == _FINISHED:
            if self._exception is not None:
                raise self._exception
            return cast("T", self._result)
        if state == _CANCELLED:
            raise self._cancelled_error()
        msg = f"{self!r} has no result yet: await it, or call wait() from a plain thread"
        raise InvalidStateError(msg)

    def exception(self) -> BaseException | None:
        """Return the exception the call raised, or None if it returned normally.

        Safe from any thread; never blocks.

        Raises:
            PendingCancelledError: If the Pending was cancelled.
            InvalidStateError: If the Pending is not done yet.
        """
        state = self._state
        if state == _FINISHED:
            return self._exception
        if state == _CANCELLED:
            raise self._cancelled_error()
        msg = f"{self!r} has no exception yet: await it, or call wait() from a plain thread"
        raise InvalidStateError(msg)

    def _cancelled_error(self) -> PendingCancelledError:
        detail = f": {self._cancel_message}" if self._cancel_message else ""
        return PendingCancelledError(f"the call was cancelled{detail}")

    # ------------------------------------------------------------------ callbacks

    def add_done_callback(self, fn: Callable[[Pending[T]], object], /) -> None:
        """Call ``fn(pending)`` once, when the Pending is done.

        Safe from any thread. If the Pending is already done, ``fn`` runs immediately in the
        calling thread; otherwise it runs in the thread that completes the Pending. An
        exception from ``fn`` is logged to the ``async_caller`` logger, not raised.
        """
        with self._lock:
            if self._state < _FINISHED:
                if self._callbacks is None:
                    self._callbacks = [fn]
                else:
                    self._callbacks.append(fn)
                return
        self._run_callback(fn)

    def remove_done_callback(self, fn: Callable[[Pending[T]], object], /) -> int:
        """Remove every registration of ``fn``; return how many were removed.

        Safe from any thread. Has no effect once the callbacks have run.
        """
        with self._lock:
            if not self._callbacks:
                return 0
            before = len(self._callbacks)
            self._callbacks = [cb for cb in self._callbacks if cb != fn]
            return before - len(self._callbacks)

    def _run_callback(self, fn: Callable[[Pending[T]], object]) -> None:
        try:
            fn(self)
        except Exception:
            _logger.exception("done callback %r of %r raised", fn, self)

    # ------------------------------------------------------------------ completion

    def set_result(self, value: T, /) -> None:
        """Complete the Pending with ``value``. Safe from any thread.

        Raises:
            InvalidStateError: If the Pending is already done.
        """
        if not self._complete(_FINISHED, value, None):
            msg = f"cannot set the result of {self!r}: it is already done"
            raise InvalidStateError(msg)

    def set_exception(self, exception: BaseException, /) -> None:
        """Complete the Pending with ``exception``, raised to whoever reads the result.

        Safe from any thread.

        Raises:
            InvalidStateError: If the Pending is already done.
        """
        if not self._complete(_FINISHED, None, exception):
            msg = f"cannot set an exception on {self!r}: it is already done"
            raise InvalidStateError(msg)

    def _complete(self, state: int, value: T | None, exception: BaseException | None) -> bool:
        """Move to a final state; return False if already done. Runs callbacks, wakes waiters."""
        with self._lock:
            if self._state >= _FINISHED:
                return False
            self._state = state
            self._result = value
            self._exception = exception
            callbacks = self._callbacks
            self._callbacks = None
            event = self._event
            thread_waiters = self._thread_waiters
            self._thread_waiters = None
            self._canceller = self._handle = None
        if thread_waiters is not None:
            for waiter in thread_waiters:
                waiter.release()
        if event is not None:
            event.set()
        if callbacks:
            for fn in callbacks:
                self._run_callback(fn)
        return True

    # ------------------------------------------------------------------ used by runners

    def _start(self, canceller: _Canceller | None, handle: Any) -> bool:
        """Mark the call as running; return False if it was cancelled and must not run.

        ``canceller.cancel_running(handle, msg)`` is how a later `cancel` reaches the call. With
        no canceller the call cannot be interrupted, and `cancel` completes the Pending at once.
        """
        with self._lock:
            if self._state != _WAITING:
                return False
            self._state = _RUNNING
            self._canceller = canceller
            self._handle = handle
            return True

    def _finish_result(self, value: T) -> bool:
        return self._complete(_FINISHED, value, None)

    def _finish_cancelled(self) -> bool:
        return self._complete(_CANCELLED, None, None)

    def _finish_raised(self, exc: BaseException, *, cancelled: bool) -> bool:
        """Settle from the exception a call raised; return True if its runner must re-raise it.

        The one place that decides what a call's failure means. A cancellation (``cancelled``:
        the runner's own backend cancelled this call) cancels the Pending and goes on up to
        the scope or task that caught it. Anything else becomes the Pending's exception; what
        is not an `Exception` (KeyboardInterrupt, SystemExit) also goes on, ending the loop
        that runs the call as it would end a task. A loop callback ignores the answer: it
        must not raise.
        """
        if cancelled:
            self._complete(_CANCELLED, None, None)
            return True
        self._complete(_FINISHED, None, exc)
        return not isinstance(exc, Exception)

    # ------------------------------------------------------------------ cancellation

    def cancel(self, msg: str | None = None) -> bool:
        """Ask for the call to be cancelled. Safe from any thread.

        A call that has not started is cancelled at once and never runs. A running call is
        cancelled in its own loop (asyncio's or trio's cancellation at its next checkpoint); the
        Pending becomes cancelled when the call has unwound, so `await`/`wait` return only once
        it has really stopped. A call running in a worker thread cannot be interrupted: its
        Pending is cancelled at once and its eventual result discarded.

        Args:
            msg: Optional reason, shown in the `PendingCancelledError`.

        Returns:
            False if the Pending was already done, True otherwise.
        """
        with self._lock:
            state = self._state
            if state >= _FINISHED:
                return False
            if self._cancel_requested:
                return True
            self._cancel_requested = True
            self._cancel_message = msg
            canceller, handle = self._canceller, self._handle
        if state == _RUNNING and canceller is not None:
            canceller.cancel_running(handle, msg)
        else:
            self._finish_cancelled()
        return True

    # ------------------------------------------------------------------ waiting

    def _get_event(self) -> aiologic.Event:
        with self._lock:
            event = self._event
            if event is None:
                event = self._event = aiologic.Event()
                if self._state >= _FINISHED:
                    event.set()
            return event

    def wait(self, timeout: float | None = None) -> T:
        """Block the calling thread until the Pending is done; return its result.

        Meant for plain threads. Inside an event loop, ``await pending`` instead: a blocking
        wait stops that loop.

        Args:
            timeout: Seconds to wait at most; None waits for as long as it takes.

        Returns:
            The result of the call.

        Raises:
            PendingTimeoutError: If ``timeout`` passed first (the call keeps running).
            PendingCancelledError: If the Pending was cancelled.
            DeadlockError: If called without a timeout, before the Pending is done, from the
                very thread whose loop has to run the call.
        """
        if self._state < _FINISHED:
            owner = self._owner_thread
            if timeout is None and owner is threading.current_thread() and owner is not None:
                msg = (
                    f"wait() on {self!r} from thread {owner.name!r} would block "
                    "forever: that thread's event loop must run the call. Use "
                    "'await pending' inside the loop instead"
                )
                raise DeadlockError(msg)
            if not self._wait_in_thread(timeout):
                msg = f"{self!r} was not done after {timeout} s; it keeps running"
                raise PendingTimeoutError(msg)
        return self.result()

    def _wait_in_thread(self, timeout: float | None) -> bool:
        """Block until done or ``timeout``; return whether done. Any plain thread."""
        waiter = allocate_lock()
        waiter.acquire()
        with self._lock:
            if self._state >= _FINISHED:
                return True
            if self._thread_waiters is None:
                self._thread_waiters = [waiter]
            else:
                self._thread_waiters.append(waiter)
        if timeout is None:
            waiter.acquire()
            return True
        if waiter.acquire(timeout=min(max(timeout, 0.0), TIMEOUT_MAX)):
            return True
        with self._lock:
            if self._thread_waiters is not None:
                self._thread_waiters.remove(waiter)
            return self._state >= _FINISHED  # completed just as the time ran out

    async def _wait_async(self) -> T:
        if self._state < _FINISHED:
            await self._get_event()
        return self.result()

    def __await__(self) -> Generator[Any, Any, T]:
        return self._wait_async().__await__()
