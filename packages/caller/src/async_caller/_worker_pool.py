"""`WorkerPool`: the worker callers behind `Caller.to_thread` and `Caller.call_using_backend`.

Design note: a worker is a caller running in a thread of its own, on one backend, that runs
one call at a time. The pool keeps idle workers per backend (the most recently used first, so
the others go idle for long enough to retire), starts a new one while below the limit, and
otherwise queues the call for the next worker of that backend that comes free. A worker's
call reports back through a done callback, in the worker's thread, which hands the worker
its next call or puts it back on the idle list. A worker idle for ``idle_timeout`` retires:
it checks on a timer of its own, started when it goes idle and not already running.

The pool does not know the `Caller` class (which uses it): `WorkerHost` is how it starts,
feeds and stops workers.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ._exceptions import CallerStoppedError
from ._pending import Pending
from ._pending_group import current_group

if TYPE_CHECKING:
    import contextvars
    from collections.abc import Callable

__all__ = ["WorkerHost", "WorkerPool"]

W = TypeVar("W")

_Item = tuple[Pending[Any], "Callable[..., Any]", tuple[Any, ...], dict[str, Any], Any]


class WorkerHost(Protocol[W]):
    """How the pool starts workers, gives them calls, times them and stops them."""

    def start(self, backend: str, name: str) -> W:
        """Start a worker of ``backend``, ready for calls; any thread."""
        ...

    def run(
        self,
        worker: W,
        pending: Pending[Any],
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        context: contextvars.Context,
    ) -> None:
        """Run one call in ``worker``, settling ``pending``; any thread."""
        ...

    def call_later(self, worker: W, delay: float, callback: Callable[[], object]) -> None:
        """Run ``callback()`` in the worker's thread after ``delay`` seconds; any thread."""
        ...

    def stop(self, worker: W) -> None:
        """Stop the worker without waiting for it; any thread."""
        ...

    def thread(self, worker: W) -> threading.Thread:
        """The worker's thread."""
        ...


class WorkerPool(Generic[W]):
    """A bounded pool of worker callers, per backend, that retire when idle.

    Args:
        host: Starts, feeds and stops the workers.
        max_workers: The most workers (of all backends) alive at once; more calls wait.
        idle_timeout: Seconds a worker stays idle before it retires.
        name: Prefix of the worker threads' names.
    """

    def __init__(
        self,
        host: WorkerHost[W],
        *,
        max_workers: int = 40,
        idle_timeout: float = 30.0,
        name: str = "async-caller-worker",
    ) -> None:
        if max_workers < 1:
            msg = f"max_workers must be at least 1, not {max_workers}"
            raise ValueError(msg)
        self.host = host
        self.max_workers = max_workers
        self.idle_timeout = idle_timeout
        self.name = name
        self._names = itertools.count(1)
        self._lock = threading.Lock()
        self._idle: dict[str, list[W]] = {}
        self._idle_since: dict[W, float] = {}
        self._timed: set[W] = set()
        self._waiting: dict[str, deque[_Item]] = {}
        self._workers: dict[W, str] = {}  # every live worker, and its backend
        self._starting = 0
        self._shutdown = False

    @property
    def thread_count(self) -> int:
        """How many workers are alive right now."""
        return len(self._workers)

    @property
    def threads(self) -> frozenset[threading.Thread]:
        """The threads of the workers alive right now."""
        with self._lock:
            workers = list(self._workers)
        return frozenset(self.host.thread(worker) for worker in workers)

    def submit(
        self,
        backend: str,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        context: contextvars.Context,
    ) -> Pending[Any]:
        """Run ``func`` in a worker of ``backend``; any thread.

        Raises:
            CallerStoppedError: If the pool was shut down.
        """
        pending: Pending[Any] = Pending()
        while not self._try_submit(backend, pending, func, args, kwargs, context):
            pass  # an idle worker had stopped (a call stopped its own caller): pick again
        return pending

    def _try_submit(
        self,
        backend: str,
        pending: Pending[Any],
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        context: contextvars.Context,
    ) -> bool:
        start = False
        with self._lock:
            if self._shutdown:
                what = getattr(func, "__qualname__", repr(func))
                msg = f"cannot run {what}: the worker pool {self.name!r} was shut down"
                raise CallerStoppedError(msg)
            idle = self._idle.get(backend)
            worker = idle.pop() if idle else None
            if worker is not None:
                del self._idle_since[worker]
            elif len(self._workers) + self._starting < self.max_workers:
                self._starting += 1
                start = True
            else:
                self._waiting.setdefault(backend, deque()).append(
                    (pending, func, args, kwargs, context)
                )
        if worker is None and not start:
            group = context.get(current_group)
            if group is not None:  # the worker adds it too, once it gets it; that is harmless
                group.add(pending)
            return True
        if start:
            try:
                worker = self.host.start(backend, f"{self.name}-{backend}-{next(self._names)}")
            finally:
                with self._lock:
                    self._starting -= 1
            with self._lock:
                self._workers[worker] = backend
        assert worker is not None
        return self._run(worker, pending, func, args, kwargs, context, give_up=start)

    def _run(
        self,
        worker: W,
        pending: Pending[Any],
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        context: contextvars.Context,
        *,
        give_up: bool = True,
    ) -> bool:
        """Run a call in ``worker``; False if the worker had stopped and ``give_up`` is False."""
        try:
            self.host.run(worker, pending, func, args, kwargs, context)
        except CallerStoppedError as exc:
            with self._lock:
                self._workers.pop(worker, None)
                self._idle_since.pop(worker, None)
                self._timed.discard(worker)
            if not give_up:
                return False
            pending._finish_raised(exc, cancelled=False)  # a new worker stopped: exit is near
            return True
        pending.add_done_callback(lambda _: self._release(worker))
        return True

    def _release(self, worker: W) -> None:
        """A worker finished its call; in the worker's thread (or the cancelling one)."""
        item: _Item | None = None
        time_it = stop = False
        with self._lock:
            backend = self._workers.get(worker)
            if backend is None:
                return
            waiting = self._waiting.get(backend)
            if waiting:
                item = waiting.popleft()
            elif self._shutdown:
                del self._workers[worker]
                stop = True
            else:
                self._idle.setdefault(backend, []).append(worker)
                self._idle_since[worker] = time.monotonic()
                if worker not in self._timed:
                    self._timed.add(worker)
                    time_it = True
        if item is not None:
            self._run(worker, *item)
        elif stop:
            self.host.stop(worker)
        elif time_it:
            self._time(worker, self.idle_timeout)

    def _time(self, worker: W, delay: float) -> None:
        try:
            self.host.call_later(worker, delay, lambda: self._check_idle(worker))
        except CallerStoppedError:
            with self._lock:
                self._timed.discard(worker)

    def _check_idle(self, worker: W) -> None:
        """The worker's idle timer; in its thread. Retire it, or look again later."""
        remaining = 0.0
        with self._lock:
            since = self._idle_since.get(worker)
            if since is None:  # busy again: its next idle spell starts a new timer
                self._timed.discard(worker)
                return
            remaining = since + self.idle_timeout - time.monotonic()
            if remaining <= 0:
                self._timed.discard(worker)
                del self._idle_since[worker]
                backend = self._workers.pop(worker)
                self._idle[backend].remove(worker)
        if remaining <= 0:
            self.host.stop(worker)
        else:
            self._time(worker, remaining)

    def shutdown(self) -> None:
        """Stop accepting calls; idle workers stop now, busy ones after their call. Any thread."""
        with self._lock:
            self._shutdown = True
            idle = [worker for workers in self._idle.values() for worker in workers]
            self._idle.clear()
            self._idle_since.clear()
            for worker in idle:
                del self._workers[worker]
            waiting = [item for items in self._waiting.values() for item in items]
            self._waiting.clear()
        for worker in idle:
            self.host.stop(worker)
        for item in waiting:
            item[0].cancel("the worker pool was shut down")
