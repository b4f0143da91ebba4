"""`WorkerPool`: the bounded, self-trimming thread pool behind `Caller.to_thread`.

Design note: work items sit in a deque guarded by a lock. ``idle`` counts workers asleep on
the semaphore that nobody has claimed yet; a submitter claims one (``idle -= 1`` and one
``release``), else starts a thread if below the limit, else leaves the item for the next
worker that finishes. A worker whose sleep times out retires, unless a submitter claimed it
at that very moment (then the semaphore has a token for it, which it takes back), so no item
is ever left with nobody to run it.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import itertools
import logging
import threading
from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar, ParamSpec, TypeVar

import aiologic
import sniffio

from ._exceptions import CallerStoppedError
from ._pending import Pending

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["WorkerPool"]

T = TypeVar("T")
P = ParamSpec("P")

_logger = logging.getLogger("async_caller")


class WorkerPool:
    """A bounded pool of reusable worker threads that retire when idle.

    `Caller.to_thread` uses `WorkerPool.default()`; create your own pool to isolate work or
    to choose other limits. Worker threads are not daemons; idle ones retire after
    ``idle_timeout`` and all are told to finish when the interpreter exits.

    Args:
        max_workers: The most threads the pool runs at once; more work waits its turn.
        idle_timeout: Seconds an idle thread waits for work before it retires.
        name: Prefix of the worker threads' names.
    """

    _default: ClassVar[WorkerPool | None] = None
    _default_lock: ClassVar[threading.Lock] = threading.Lock()
    _names: ClassVar[itertools.count[int]] = itertools.count(1)

    def __init__(
        self,
        *,
        max_workers: int = 40,
        idle_timeout: float = 30.0,
        name: str = "async-caller-worker",
    ) -> None:
        if max_workers < 1:
            msg = f"max_workers must be at least 1, not {max_workers}"
            raise ValueError(msg)
        self.max_workers = max_workers
        self.idle_timeout = idle_timeout
        self.name = name
        self._lock = threading.Lock()
        self._items: deque[Callable[[], object]] = deque()
        self._wakeups = aiologic.Semaphore(0)
        self._idle = 0
        self._threads: set[threading.Thread] = set()
        self._shutdown = False

    @classmethod
    def default(cls) -> WorkerPool:
        """Return the shared pool used by `Caller.to_thread`; any thread."""
        pool = cls._default
        if pool is None:
            with cls._default_lock:
                pool = cls._default
                if pool is None:
                    pool = cls._default = cls()
        return pool

    @property
    def thread_count(self) -> int:
        """How many worker threads are alive right now."""
        return len(self._threads)

    @property
    def threads(self) -> frozenset[threading.Thread]:
        """The worker threads alive right now."""
        with self._lock:
            return frozenset(self._threads)

    def submit(self, func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Pending[T]:
        """Run the plain function ``func(*args, **kwargs)`` in a worker thread; any thread.

        The submitter's context is copied into the call. A running call cannot be
        interrupted: cancelling its Pending only discards the result. For a coroutine
        function use `Caller.to_thread`, which gives it an event loop in the worker.

        Raises:
            CallerStoppedError: If the pool was shut down.
            TypeError: If ``func`` is a coroutine function.
        """
        if inspect.iscoroutinefunction(func):
            msg = (
                f"WorkerPool.submit() runs plain functions; use Caller.to_thread() for "
                f"{func.__qualname__}, which runs it in an event loop"
            )
            raise TypeError(msg)
        pending: Pending[T] = Pending()
        context = contextvars.copy_context()
        self.run_callback(functools.partial(_run_item, pending, func, args, kwargs, context))
        return pending

    def run_callback(self, callback: Callable[[], object], /) -> None:
        """Run ``callback()`` in a worker thread; any thread.

        The building block of `submit` and `Caller.to_thread`: ``callback`` settles its
        own Pending. What it raises is logged to the ``async_caller`` logger.

        Raises:
            CallerStoppedError: If the pool was shut down.
        """
        with self._lock:
            if self._shutdown:
                what = getattr(callback, "__qualname__", repr(callback))
                msg = f"cannot run {what}: the worker pool {self.name!r} was shut down"
                raise CallerStoppedError(msg)
            self._items.append(callback)
            if self._idle:
                self._idle -= 1
                self._wakeups.release()
            elif len(self._threads) < self.max_workers:
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}-{next(self._names)}", daemon=False
                )
                self._threads.add(thread)
                thread.start()

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop accepting work; workers finish what is queued, then exit. Any thread.

        Args:
            wait: Also wait for the worker threads to end (not from a worker thread).
        """
        with self._lock:
            self._shutdown = True
            idle, self._idle = self._idle, 0
            if idle:
                self._wakeups.release(idle)
            threads = list(self._threads)
        if wait:
            for thread in threads:
                if thread is not threading.current_thread():
                    thread.join()

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            with self._lock:
                item = self._items.popleft() if self._items else None
                if item is None:
                    if self._shutdown:
                        self._threads.discard(me)
                        return
                    self._idle += 1
            if item is not None:
                try:
                    item()
                except Exception:
                    _logger.exception("work item %r of %r raised", item, self)
                del item
                continue
            if self._wakeups.green_acquire(timeout=self.idle_timeout):
                continue
            with self._lock:
                # Claimed while timing out? Then the token is ours: take it and go on working.
                if self._wakeups.green_acquire(blocking=False):
                    continue
                self._idle -= 1
                self._threads.discard(me)
                return


def _run_item(
    pending: Pending[Any],
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    context: contextvars.Context,
) -> None:
    """Run a plain function in this worker thread and settle its Pending."""
    if not pending._start(None, None):
        return
    if context.get(sniffio.current_async_library_cvar) is not None:
        # The submitter's loop is not running here (anyio.run sets this variable).
        context.run(sniffio.current_async_library_cvar.set, None)
    try:
        result = context.run(func, *args, **kwargs)
        if inspect.iscoroutine(result):  # e.g. a partial of a coroutine function
            result.close()
            msg = f"{func!r} returned a coroutine; pass the coroutine function itself"
            raise TypeError(msg)
    except BaseException as exc:  # noqa: BLE001 - delivered through the Pending
        pending._finish_raised(exc, cancelled=False)
    else:
        pending._finish_result(result)
