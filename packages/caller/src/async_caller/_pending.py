"""`Pending`: the result of a call, awaitable from any loop and waitable from any thread.

Design note: the state lives behind a tiny `threading.Lock` held only for a few field
updates, never while user code runs. Awaiting tasks sleep on an `aiologic.Event`, which works
from asyncio and trio loops alike; it is created only when a task actually has to wait. A
plain thread's `wait_sync` sleeps on a lock of its own that completion releases: a bare lock
release costs ~3 µs, an `aiologic.Event` (or `threading.Event`) set with a thread waiting ~7
µs, and that time sits on every cross-thread call's round trip (measured on Linux, see
``benchmarks/caller``).
Cancelling a running call goes through a *canceller* (the `Caller` that runs it) which
delivers the cancellation into the owning loop; the Pending only records the request.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from _thread import LockType, allocate_lock
from threading import TIMEOUT_MAX
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar, cast, overload

import aiologic
import anyio
import sniffio

from ._exceptions import (
    DeadlockError,
    InvalidStateError,
    PendingCancelled,
    PendingTimeoutError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Generator

__all__ = ["Pending", "call_as", "current_pending"]

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


class _FunctionCanceller:
    """The canceller `Pending.set_canceller` installs: calls ``function(msg)``."""

    __slots__ = ("function",)

    def __init__(self, function: Callable[[str | None], object]) -> None:
        self.function = function

    def cancel_running(self, handle: Any, msg: str | None, /) -> None:
        del handle
        self.function(msg)


current_pending: contextvars.ContextVar[Pending[Any] | None] = contextvars.ContextVar(
    "async_caller.current_pending", default=None
)
"""The Pending of the call running in this context; set when each call starts (`call_as`)."""


def call_as(
    pending: Pending[Any], func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Call ``func`` as the call of ``pending``: `current_pending` names it meanwhile.

    Runners call this inside the call's own context (``context.run(call_as, ...)``): the
    variable is set when the call starts, not when it is submitted, since a set made while
    thousands of calls wait in a queue costs each of them a context of its own.
    """
    current_pending.set(pending)
    return func(*args, **kwargs)


def _in_event_loop() -> bool:
    try:
        sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return False
    return True


class Pending(Generic[T]):
    """The outcome of a call that may not have finished yet; usable from any thread or loop.

    Returned by `Caller.call_soon` and friends, or created bare (``Pending()``) and completed
    with `set_result` / `set_exception` from any thread.

    * ``await pending`` works in any asyncio or trio loop in any thread, whichever loop or
      thread produces the result.
    * `wait_sync` blocks a plain thread until the result is there; `wait` is the awaitable
      form with a timeout.
    * `cancel` may be called from any thread: a call that has not started never runs, and a
      running call sees its own backend's cancellation at its next checkpoint.

    Cancelling the task that *awaits* a Pending does not cancel the Pending: other
    awaiters may still want it. Cancel the Pending itself for that.

    A Pending is always true in a boolean context, done or not: ask `done()` for that.

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
        "_metadata",
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
        self._thread_waiters: list[LockType] | None = None  # locks of threads in wait_sync()
        self._canceller: _Canceller | None = None
        self._handle: Any = None
        self._cancel_requested = False
        self._cancel_message: str | None = None
        # The thread whose loop must run this call: a blocking wait there would deadlock.
        self._owner_thread: threading.Thread | None = None
        self._metadata: dict[str, Any] | None = None

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

    @property
    def metadata(self) -> dict[str, Any]:
        """A dict of your own about this Pending (what it is for, who asked); empty at first.

        async_caller never reads it. Safe from any thread as far as a dict is.
        """
        metadata = self._metadata
        if metadata is None:
            metadata = self._metadata = {}
        return metadata

    def result(self) -> T:
        """Return the result, or raise the call's exception.

        Safe from any thread; never blocks.

        Returns:
            The value the call returned (or that was passed to `set_result`).

        Raises:
            PendingCancelled: If the Pending was cancelled.
            InvalidStateError: If the Pending is not done yet; `await` it or `wait_sync` for it.
            BaseException: Whatever the call raised.
        """
        state = self._state
        if state == _FINISHED:
            if self._exception is not None:
                raise self._exception
            return cast("T", self._result)
        if state == _CANCELLED:
            raise self._cancelled_error()
        msg = f"{self!r} has no result yet: await it, or call wait_sync() from a plain thread"
        raise InvalidStateError(msg)

    def exception(self) -> BaseException | None:
        """Return the exception the call raised, or None if it returned normally.

        Safe from any thread; never blocks.

        Raises:
            PendingCancelled: If the Pending was cancelled.
            InvalidStateError: If the Pending is not done yet.
        """
        state = self._state
        if state == _FINISHED:
            return self._exception
        if state == _CANCELLED:
            raise self._cancelled_error()
        msg = f"{self!r} has no exception yet: await it, or call wait_sync() from a plain thread"
        raise InvalidStateError(msg)

    def _cancelled_error(self) -> PendingCancelled:
        detail = f": {self._cancel_message}" if self._cancel_message else ""
        return PendingCancelled(f"the call was cancelled{detail}")

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
        Pending becomes cancelled when the call has unwound, so awaiting and waiting return only once
        it has really stopped. A call running in a worker thread cannot be interrupted: its
        Pending is cancelled at once and its eventual result discarded.

        Args:
            msg: Optional reason, shown in the `PendingCancelled`.

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

    def set_canceller(self, canceller: Callable[[str | None], object], /) -> None:
        """Say how a `cancel` reaches the work behind a Pending you complete yourself.

        For a bare ``Pending()``: from now on `cancel` calls ``canceller(msg)`` (in the
        thread that cancels) instead of cancelling the Pending at once; the work should then
        stop and settle the Pending (for example with `cancel` from the producer's side, or
        `set_exception`). If a cancel was asked for already, ``canceller`` runs right away.

        Raises:
            InvalidStateError: If the Pending was started by a Caller, which cancels its own
                calls, or is already done.
        """
        with self._lock:
            if self._state >= _FINISHED or self._canceller is not None:
                msg = (
                    f"cannot set a canceller on {self!r}: it is done, or a Caller runs it and "
                    "cancels it itself"
                )
                raise InvalidStateError(msg)
            self._state = _RUNNING
            self._canceller = _FunctionCanceller(canceller)
            requested, message = self._cancel_requested, self._cancel_message
        if requested:
            canceller(message)

    async def cancel_wait(self, msg: str | None = None, *, timeout: float | None = None) -> None:  # noqa: ASYNC109 - the Pending's own timeout, as in wait()
        """Cancel, then wait until the call has really stopped; from any loop of either backend.

        Args:
            msg: Optional reason, shown in the `PendingCancelled` error.
            timeout: Seconds to wait at most for the call to unwind.

        Raises:
            PendingTimeoutError: If the call had not stopped after ``timeout``.
        """
        self.cancel(msg)
        await self._wait(timeout, shield=True, protect=True, result=False)

    # ------------------------------------------------------------------ waiting

    def _get_event(self) -> aiologic.Event:
        with self._lock:
            event = self._event
            if event is None:
                event = self._event = aiologic.Event()
                if self._state >= _FINISHED:
                    event.set()
            return event

    @overload
    def wait(
        self,
        timeout: float | None = ...,
        *,
        shield: bool = ...,
        protect: bool = ...,
        result: Literal[True] = ...,
    ) -> Coroutine[Any, Any, T]: ...
    @overload
    def wait(
        self, timeout: float | None = ..., *, shield: bool = ..., protect: bool = ..., result: bool
    ) -> Coroutine[Any, Any, T | None]: ...
    def wait(
        self,
        timeout: float | None = None,
        *,
        shield: bool = False,
        protect: bool = False,
        result: bool = True,
    ) -> Coroutine[Any, Any, T | None]:
        """Wait until the Pending is done; ``await`` it, in any loop of either backend.

        Unlike ``await pending``, it can time out, shield the wait and skip the result.

        Args:
            timeout: Seconds to wait at most; None waits for as long as it takes. When the
                time runs out the Pending is **cancelled**, unless ``protect`` is set.
            shield: Keep waiting even if the awaiting task is cancelled meanwhile.
            protect: On a timeout, leave the Pending running.
            result: Return the result (raising the call's exception); False returns None
                once done, whatever the outcome.

        Returns:
            A coroutine: ``await pending.wait()`` gives the result.

        Raises:
            TypeError: If called outside an event loop, where nothing could await it; use
                `wait_sync` from a plain thread.
            PendingTimeoutError: If ``timeout`` passed first.
            PendingCancelled: If the Pending was cancelled (and ``result`` is True).
            DeadlockError: If a call waits for its own Pending.
        """
        if not _in_event_loop():
            msg = (
                f"Pending.wait() is a coroutine method: 'await pending.wait()' inside an event "
                f"loop. From a thread without one, call pending.wait_sync() on {self!r}"
            )
            raise TypeError(msg)
        return self._wait(timeout, shield=shield, protect=protect, result=result)

    async def _wait(
        self,
        timeout: float | None,  # noqa: ASYNC109 - a timeout cancels the Pending, not the waiter
        *,
        shield: bool,
        protect: bool,
        result: bool,
    ) -> T | None:
        if self._state < _FINISHED:
            if current_pending.get() is self:
                msg = f"a call cannot wait for its own {self!r}: it finishes only once the call has"
                raise DeadlockError(msg)
            event = self._get_event()
            with anyio.CancelScope(shield=shield):
                with anyio.move_on_after(timeout):
                    await event
            if self._state < _FINISHED:
                if not protect:
                    self.cancel(f"timed out after {timeout} s")
                kept = "it keeps running" if protect else "it was cancelled"
                msg = f"{self!r} was not done after {timeout} s; {kept}"
                raise PendingTimeoutError(msg)
        if not result:
            return None
        return self.result()

    @overload
    def wait_sync(
        self, timeout: float | None = ..., *, protect: bool = ..., result: Literal[True] = ...
    ) -> T: ...
    @overload
    def wait_sync(
        self, timeout: float | None = ..., *, protect: bool = ..., result: bool
    ) -> T | None: ...
    def wait_sync(
        self, timeout: float | None = None, *, protect: bool = False, result: bool = True
    ) -> T | None:
        """Block the calling thread until the Pending is done; return its result.

        For plain threads. Inside an event loop, ``await pending`` (or `wait`) instead: a
        blocking wait stops that loop.

        Args:
            timeout: Seconds to wait at most; None waits for as long as it takes. When the
                time runs out the Pending is **cancelled**, unless ``protect`` is set.
            protect: On a timeout, leave the Pending running.
            result: Return the result (raising the call's exception); False returns None.

        Returns:
            The result of the call.

        Raises:
            PendingTimeoutError: If ``timeout`` passed first.
            PendingCancelled: If the Pending was cancelled (and ``result`` is True).
            DeadlockError: If called without a timeout, before the Pending is done, from the
                very thread whose loop has to run the call.
        """
        if self._state < _FINISHED:
            owner = self._owner_thread
            if timeout is None and owner is threading.current_thread() and owner is not None:
                msg = (
                    f"wait_sync() on {self!r} from thread {owner.name!r} would block "
                    "forever: that thread's event loop must run the call. Use "
                    "'await pending' inside the loop instead"
                )
                raise DeadlockError(msg)
            if not self._wait_in_thread(timeout):
                if not protect:
                    self.cancel(f"timed out after {timeout} s")
                kept = "it keeps running" if protect else "it was cancelled"
                msg = f"{self!r} was not done after {timeout} s; {kept}"
                raise PendingTimeoutError(msg)
        if not result:
            return None
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
            if current_pending.get() is self:
                msg = f"a call cannot await its own {self!r}: it finishes only once the call has"
                raise DeadlockError(msg)
            await self._get_event()
        return self.result()

    def __await__(self) -> Generator[Any, Any, T]:
        return self._wait_async().__await__()
