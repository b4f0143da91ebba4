"""`Caller`: one per thread, bound to that thread's event loop; any thread can submit work.

Design note: submissions from any thread go into one lock-free `collections.deque`
(``append`` and ``popleft`` are atomic). Only the first submission of a batch wakes the loop
(``call_soon_threadsafe`` / ``run_sync_soon``); the loop then drains what is queued in one
callback. A flag says whether a drain is already scheduled: the drain clears it *before* it
starts popping, so an item appended after the clear either is popped by this drain or
schedules the next one; nothing is lost, at worst a drain finds the deque empty.

A drain starts at most ``_DRAIN_BATCH`` calls, then schedules itself again behind them: the
tasks just started run (and mostly finish) before the next batch is made. Starting a burst
of thousands at once kept all their tasks alive together, and the garbage collector's full
passes over them cost more than the calls themselves (measured: 100,000 ``call_soon`` went
from 90k to 165k calls/s on asyncio, 55k to 83k on trio).

Every caller is served by one task of its loop (`Caller._serve`): the main task of a thread
started for it, a task started when ``Caller()`` first asks for the current thread's caller,
or, without threads, a task of its parent's loop. Submissions made before that task has
opened the runner wait in the deque: the drain flag starts set, and the task drains once.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import itertools
import logging
import threading
from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, ParamSpec, TypeVar, overload

import anyio
import sniffio

from ._backends import BACKENDS, check_backend, create_runner
from ._call_queue import CallQueue
from ._exceptions import (
    CallerExistsError,
    CallerProtectedError,
    CallerStoppedError,
    NoCallerError,
    ThreadsUnavailableError,
    UnknownBackendError,
)
from ._helpers import ALL_COMPLETED, ReturnWhen, follow_awaitables, wait_awaitables
from ._pending import Pending, current_pending
from ._pending_group import PendingGroup, current_group
from ._runner import running_backend
from ._threads import threads_available
from ._worker_pool import WorkerPool

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable
    from types import TracebackType
    from typing import Self

    from ._runner import Runner

__all__ = ["Caller"]

T = TypeVar("T")
P = ParamSpec("P")

_logger = logging.getLogger("async_caller")
_ids = itertools.count(1)

_sniffio_cvar: Final = sniffio.current_async_library_cvar

# Submission kinds
_SOON: Final = 0
_DIRECT: Final = 1
_QUEUE: Final = 2

_DRAIN_BATCH: Final = 64
"""How many submissions one drain starts before it lets them run and reschedules itself."""

Modifier = Literal["CurrentThread", "MainThread", "NewThread"]


class _ToThreadCall:
    """`Caller.to_thread`, bound to a caller or to the class."""

    __slots__ = ("caller",)

    def __init__(self, caller: Caller | None) -> None:
        self.caller = caller

    def __call__(
        self, func: Callable[P, Awaitable[T]] | Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Pending[T]:
        """Run ``func`` in a pooled worker thread that has a caller of its own; any thread.

        The worker's loop has the backend of the caller (``caller.to_thread``), or of the
        calling thread's loop (``Caller.to_thread``, asyncio outside any loop). A plain
        function runs in the worker thread and cannot be interrupted: cancelling its Pending
        only discards the result. A coroutine function runs as a call of the worker's caller,
        so it can await and be cancelled. Workers run one call at a time; at most 40 exist,
        and an idle one retires after 30 s. The submitter's context is copied into the call.

        Without threads (see `threads_available`), ``func`` runs as a task of the calling
        thread's caller instead: a plain function then blocks that loop while it runs.

        Raises:
            ThreadsUnavailableError: Without threads, outside a running loop.
        """
        if not threads_available():
            caller = self.caller
            if caller is None:
                try:
                    caller = Caller()
                except NoCallerError as exc:
                    what = getattr(func, "__qualname__", repr(func))
                    msg = f"cannot run {what}: no threads here, and no event loop to run it"
                    raise ThreadsUnavailableError(msg) from exc
            return caller.call_soon(func, *args, **kwargs)
        backend = self.caller._backend if self.caller is not None else _calling_backend()
        return _worker_pool().submit(backend, func, args, kwargs, contextvars.copy_context())


class _ToThread:
    """The descriptor behind `Caller.to_thread`: it works on a caller and on the class."""

    @overload
    def __get__(self, instance: None, owner: type[Caller]) -> _ToThreadCall: ...
    @overload
    def __get__(self, instance: Caller, owner: type[Caller] | None = None) -> _ToThreadCall: ...
    def __get__(self, instance: Caller | None, owner: type[Caller] | None = None) -> _ToThreadCall:
        return _ToThreadCall(instance)


class Caller:
    """Runs calls in the event loop of one thread; any thread may submit them.

    Get one with:

    * ``Caller()`` (or ``Caller("CurrentThread")``): this thread's caller, made on first use
      inside a running asyncio or trio loop and served by a task of that loop;
    * ``Caller("MainThread")``: the main thread's caller;
    * ``Caller("NewThread", name=..., backend=..., backend_options=...)``: a new thread
      running a loop of its own with a caller, a child of the calling thread's caller if it
      has one (not if it is a pooled worker); or `get`, which makes a named child.

    Work submitted with `call_soon`, `call_later`, `schedule_call`, `call_direct` or
    `queue_call` runs in the caller's loop and returns a `Pending`; `to_thread` and
    `call_using_backend` run work in pooled worker threads. ``async with caller:`` stops the
    caller when the block ends.

    Args:
        modifier: Which caller: ``"CurrentThread"`` (the default), ``"MainThread"`` or
            ``"NewThread"``.
        name: For a new caller, its name (and its thread's); for an existing one, the name
            it must have.
        backend: For ``"NewThread"``, ``"asyncio"`` or ``"trio"`` (default: the current
            thread's backend, else asyncio); for an existing caller, the backend it must have.
        backend_options: For ``"NewThread"``, options for the loop (``anyio.run``'s
            ``backend_options``, such as ``{"use_uvloop": True}``).
        protected: For a new caller: `stop` refuses to stop it unless forced.

    Raises:
        NoCallerError: For ``"CurrentThread"`` outside any running loop, or ``"MainThread"``
            when the main thread has no caller yet.
        CallerExistsError: If the existing caller has another ``name`` or ``backend``.
        UnknownBackendError: If ``backend`` cannot be run here.
    """

    _by_thread: ClassVar[dict[int, Caller]] = {}
    _by_id: ClassVar[dict[int, Caller]] = {}
    _owned: ClassVar[set[Caller]] = set()
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    _name: str
    _id: int
    _backend: str
    _backend_options: dict[str, Any] | None
    _protected: bool
    _runner: Runner | None
    _thread: threading.Thread | None
    _thread_id: int
    _submissions: deque[tuple[Any, ...]]
    _wake_scheduled: bool
    _stop_lock: threading.Lock
    _stop_requested: bool
    _closed: bool
    _started: Pending[None]
    _stopping: Pending[None]
    _stopped: Pending[None]
    _children: dict[str, Caller]
    _children_lock: threading.RLock
    _stopped_children: list[Caller]
    _parent: Caller | None
    _owns_thread: bool
    _serves_thread: bool
    _is_worker: bool
    _outer: Caller | None
    _queues: dict[Callable[..., Any], CallQueue]

    def __new__(  # noqa: PYI034 - an existing caller may come back
        cls,
        modifier: Modifier = "CurrentThread",
        /,
        *,
        name: str | None = None,
        backend: str | None = None,
        backend_options: dict[str, Any] | None = None,
        protected: bool = False,
    ) -> Caller:
        if modifier == "NewThread":
            if backend is None:
                backend = _calling_backend()
            with cls._registry_lock:
                parent = cls._by_thread.get(threading.get_ident())
            if parent is not None and parent._is_worker:
                parent = None  # a pooled worker retires when idle: it adopts no children
            return cls._start_child(parent, backend, name, backend_options, protected=protected)
        if modifier == "CurrentThread":
            thread = threading.current_thread()
        elif modifier == "MainThread":
            thread = threading.main_thread()
        else:
            msg = (
                f"no caller modifier {modifier!r}; use 'CurrentThread', 'MainThread' or 'NewThread'"
            )
            raise ValueError(msg)
        with cls._registry_lock:
            caller = cls._by_thread.get(thread.ident or -1)
        here = thread is threading.current_thread()
        if (
            caller is not None
            and not caller._stop_requested
            and (not here or caller._runner is None or caller._runner.runs_here())
        ):
            caller._check_matches(name, backend)
            return caller
        if not here:
            msg = (
                f"the main thread has no Caller yet: call Caller() inside its event loop first "
                f"(asked from thread {threading.current_thread().name!r})"
            )
            raise NoCallerError(msg)
        return cls._start_for_running_loop(name, backend, protected=protected)

    def __init__(
        self,
        modifier: Modifier = "CurrentThread",
        /,
        *,
        name: str | None = None,
        backend: str | None = None,
        backend_options: dict[str, Any] | None = None,
        protected: bool = False,
    ) -> None:
        """Everything is set up by ``__new__``, which may return an existing caller."""

    @classmethod
    def _make(
        cls,
        name: str | None,
        backend: str,
        backend_options: dict[str, Any] | None,
        *,
        protected: bool,
        parent: Caller | None,
    ) -> Caller:
        self = object.__new__(cls)
        self._id = next(_ids)
        if name is None:
            prefix = f"{parent.name}." if parent is not None else ""
            name = f"{prefix}caller-{self._id}"
        self._name = name
        self._backend = backend
        self._backend_options = backend_options
        self._protected = protected
        self._runner = None
        self._thread = None
        self._thread_id = -1
        self._submissions = deque()
        self._wake_scheduled = True  # nothing drains before the serving task has opened
        self._stop_lock = threading.Lock()
        self._stop_requested = False
        self._closed = False
        self._started = Pending()
        self._stopping = Pending()
        self._stopped = Pending()
        self._children = {}
        self._children_lock = threading.RLock()
        self._stopped_children = []
        self._parent = parent
        self._owns_thread = False
        self._serves_thread = False
        self._is_worker = False
        self._outer = None
        self._queues = {}
        return self

    def __repr__(self) -> str:
        if self._stop_requested:
            state = "stopped" if self._stopped.done() else "stopping"
        else:
            state = "running" if self._started.done() else "starting"
        protected = " protected" if self._protected else ""
        return f"<Caller {self._name!r} {self._backend} {state}{protected}>"

    def _check_matches(self, name: str | None, backend: str | None) -> None:
        if (name is not None and name != self._name) or (
            backend is not None and backend != self._backend
        ):
            msg = (
                f"this thread's caller is {self!r}, not one named {name!r} on {backend!r}; use "
                "Caller() to get it, or stop it first"
            )
            raise CallerExistsError(msg)

    # ------------------------------------------------------------------ properties

    @property
    def name(self) -> str:
        """The caller's name."""
        return self._name

    @property
    def id(self) -> int:
        """A number that identifies this caller in the process (see `get_existing`)."""
        return self._id

    @property
    def backend(self) -> str:
        """``"asyncio"`` or ``"trio"``: the library of the caller's loop."""
        return self._backend

    @property
    def backend_options(self) -> dict[str, Any] | None:
        """The options the caller's loop was started with, if it started one."""
        return self._backend_options

    @property
    def protected(self) -> bool:
        """True if `stop` refuses to stop this caller unless forced (the kernel's own)."""
        return self._protected

    @property
    def thread(self) -> threading.Thread:
        """The thread whose event loop runs this caller's calls."""
        assert self._thread is not None
        return self._thread

    @property
    def parent(self) -> Caller | None:
        """The caller this one is a child of (stopped with it), if any."""
        return self._parent

    @property
    def children(self) -> frozenset[Caller]:
        """The running callers started as children of this one; they stop when it stops."""
        with self._children_lock:
            return frozenset(self._children.values())

    @property
    def started(self) -> Pending[None]:
        """Done once the caller runs calls: ``await caller.started``."""
        return self._started

    @property
    def stopping(self) -> Pending[None]:
        """Done once `stop` was asked for: the caller takes no new work."""
        return self._stopping

    @property
    def stopped(self) -> Pending[None]:
        """Done once the caller has stopped: its calls ended, its children stopped.

        A Pending is always true in a boolean context: ask ``caller.stopped.done()`` for a
        bool, or ``await caller.stopped`` to wait. For a caller with a thread of its own, that
        thread has left its loop too.
        """
        return self._stopped

    @property
    def calls_running(self) -> int:
        """How many calls have started and not finished (a snapshot from other threads)."""
        runner = self._runner
        if runner is None or self._closed:
            return 0
        return runner.running_calls()

    @property
    def calls_queued(self) -> int:
        """How many submitted calls wait to start, in the caller and its `queue_call` queues."""
        queued = len(self._submissions)
        for queue in list(self._queues.values()):
            queued += len(queue.items)
        return queued

    # ------------------------------------------------------------------ finding callers

    @classmethod
    def id_current(cls) -> int | None:
        """The `id` of the current thread's caller, or None if it has none yet."""
        with cls._registry_lock:
            caller = cls._by_thread.get(threading.get_ident())
        return None if caller is None else caller._id

    @classmethod
    def get_existing(cls, caller_id: int | None = None, /) -> Caller | None:
        """The running caller with `id` ``caller_id`` (default: the current thread's), or None."""
        if caller_id is None:
            caller_id = cls.id_current()
        with cls._registry_lock:
            return cls._by_id.get(caller_id) if caller_id is not None else None

    @classmethod
    def all_callers(cls, running_only: bool = True) -> list[Caller]:
        """Every caller of the process; with ``running_only``, those that are not stopping."""
        with cls._registry_lock:
            callers = list(cls._by_id.values())
        if running_only:
            callers = [caller for caller in callers if not caller._stop_requested]
        return callers

    @classmethod
    def current_pending(cls) -> Pending[Any] | None:
        """The Pending of the call running now, if a caller started the current code.

        Set for calls that run as tasks (``call_soon``, ``call_later``, ``schedule_call``,
        ``queue_call``, coroutine functions given to ``to_thread``), not for the plain
        callbacks of ``call_direct`` (nor plain functions run by ``to_thread``).
        """
        return current_pending.get()

    @classmethod
    def get_current(cls, thread: threading.Thread | None = None) -> Caller:
        """Return the running caller of ``thread`` (default: the current thread); any thread.

        Unlike ``Caller()``, this never makes one.

        Raises:
            NoCallerError: If that thread has no running caller.
        """
        ident = threading.get_ident() if thread is None else thread.ident
        with cls._registry_lock:
            caller = cls._by_thread.get(ident) if ident is not None else None
        if caller is None:
            name = (thread or threading.current_thread()).name
            msg = (
                f"thread {name!r} has no Caller: call Caller() inside its event loop, or start "
                "a thread with one using Caller('NewThread')"
            )
            raise NoCallerError(msg)
        return caller

    def get(
        self,
        *,
        name: str | None = None,
        backend: str | None = None,
        backend_options: dict[str, Any] | None = None,
        protected: bool = False,
    ) -> Caller:
        """Get the running child called ``name``, or start it in a new thread; any thread.

        Children stop when this caller stops.

        Args:
            name: The child's name; None always starts a new child with a made-up name.
            backend: The child's backend; default this caller's.
            backend_options: Options for a new child's loop.
            protected: Whether a new child is protected.

        Raises:
            CallerStoppedError: If this caller is stopping.
            CallerExistsError: If the child called ``name`` runs another backend.
        """
        if self._stop_requested:
            msg = f"cannot start a child of {self!r}: it is stopping"
            raise CallerStoppedError(msg)
        with self._children_lock:
            child = self._children.get(name) if name is not None else None
            if child is not None and not child._stop_requested:
                if backend is not None and backend != child._backend:
                    msg = f"{self!r} has a child {name!r} on {child._backend}, not on {backend!r}"
                    raise CallerExistsError(msg)
                return child
            return self._start_child(
                self,
                backend or self._backend,
                name,
                backend_options,
                protected=protected,
            )

    # ------------------------------------------------------------------ lifecycle

    def _register(self, thread_owner: bool) -> None:
        with self._registry_lock:
            self._by_id[self._id] = self
            if thread_owner:
                # A loop started inside a call of this thread's caller (a cell running a loop
                # of its own) gets a caller of its own; the outer one comes back after it.
                existing = self._by_thread.get(self._thread_id)
                if existing is not None and not existing._stop_requested:
                    self._outer = existing
                self._by_thread[self._thread_id] = self
                self._serves_thread = True

    def _unregister(self) -> None:
        with self._registry_lock:
            self._by_id.pop(self._id, None)
            if self._serves_thread and self._by_thread.get(self._thread_id) is self:
                outer = self._outer
                if outer is not None and not outer._stop_requested:
                    self._by_thread[self._thread_id] = outer
                else:
                    del self._by_thread[self._thread_id]

    @classmethod
    def _start_for_running_loop(
        cls, name: str | None, backend: str | None, *, protected: bool
    ) -> Caller:
        """Make the current thread's caller, served by a new task of the running loop."""
        running = running_backend()
        if running is None:
            msg = (
                f"thread {threading.current_thread().name!r} runs no asyncio or trio event "
                "loop, so it has no Caller: call Caller() inside a running loop, or start a "
                "thread with one using Caller('NewThread')"
            )
            raise NoCallerError(msg)
        if backend is not None and backend != running:
            msg = f"this thread runs {running}, not {backend!r}"
            raise CallerExistsError(msg)
        try:
            runner = create_runner(running)
        except RuntimeError as exc:  # a copied context names a loop that is not running here
            msg = f"thread {threading.current_thread().name!r} runs no event loop: {exc}"
            raise NoCallerError(msg) from exc
        caller = cls._make(name, running, None, protected=protected, parent=None)
        caller._thread = threading.current_thread()
        caller._thread_id = threading.get_ident()
        caller._runner = runner
        caller._register(thread_owner=True)
        runner.start_serving(caller._serve_guarded)
        return caller

    @classmethod
    def _start_child(
        cls,
        parent: Caller | None,
        backend: str,
        name: str | None,
        backend_options: dict[str, Any] | None,
        *,
        protected: bool,
    ) -> Caller:
        """Start a caller in a new thread (or, without threads, a task of ``parent``'s loop)."""
        check_backend(backend)
        if parent is not None and name is not None:
            with parent._children_lock:
                existing = parent._children.get(name)
            if existing is not None and not existing._stop_requested:
                msg = f"{parent!r} already has a child named {name!r}; pick another name"
                raise ValueError(msg)
        if not threads_available():
            return cls._start_in_task(parent, backend, name, protected=protected)
        caller = cls._start_thread(
            backend, name, backend_options, protected=protected, parent=parent
        )
        if parent is not None:
            parent._adopt(caller)
        return caller

    @classmethod
    def _start_thread(
        cls,
        backend: str,
        name: str | None,
        backend_options: dict[str, Any] | None,
        *,
        protected: bool,
        parent: Caller | None,
        thread_name: str | None = None,
    ) -> Caller:
        caller = cls._make(name, backend, backend_options, protected=protected, parent=parent)
        caller._owns_thread = True
        thread = threading.Thread(
            target=caller._thread_main,
            name=thread_name or f"async-caller:{caller._name}",
            daemon=False,
        )
        caller._thread = thread
        thread.start()
        started = caller._started
        started._wait_in_thread(None)
        if started.exception() is not None:
            thread.join()
            started.result()
        with cls._registry_lock:
            cls._owned.add(caller)
        return caller

    def _adopt(self, child: Caller) -> None:
        with self._children_lock:
            self._children[child._name] = child
        if self._stop_requested:
            child.stop(force=True)

    @classmethod
    def _start_in_task(
        cls, parent: Caller | None, backend: str, name: str | None, *, protected: bool
    ) -> Caller:
        """Without threads: a child caller served by a task of ``parent``'s loop (its thread)."""
        if parent is None or parent._runner is None or parent._stop_requested:
            msg = (
                "cannot start a caller without threads outside a running caller: call "
                "Caller('NewThread') from inside a running event loop"
            )
            raise ThreadsUnavailableError(msg)
        if parent._backend != backend:
            msg = (
                f"without threads a new caller shares its parent's {parent._backend} "
                f"loop; it cannot run on {backend!r}"
            )
            raise UnknownBackendError(msg)
        caller = cls._make(name, backend, None, protected=protected, parent=parent)
        caller._thread = parent._thread
        caller._thread_id = parent._thread_id
        caller._runner = create_runner(backend)
        caller._register(thread_owner=False)
        parent._runner.spawn_system(caller._serve)
        parent._adopt(caller)
        return caller

    def _thread_main(self) -> None:
        """The body of a caller's own thread: run a loop that serves the caller."""
        self._thread_id = threading.get_ident()

        async def main() -> None:
            self._runner = create_runner(self._backend)
            self._register(thread_owner=True)
            await self._serve()

        try:
            anyio.run(main, backend=self._backend, backend_options=self._backend_options)
        except BaseException as exc:
            if not self._started.done():
                self._started._finish_raised(exc, cancelled=False)
            else:
                _logger.exception("the loop of %r failed", self)
        finally:
            self._unregister()
            with self._registry_lock:
                self._owned.discard(self)
            self._closed = True
            self._cancel_submissions()
            self._stopped._finish_result(None)

    async def _serve_guarded(self) -> None:
        """`_serve` for a task started outside any task group: log what it raises."""
        try:
            await self._serve()
        except Exception:  # cancellation (alone or in a group) goes on to the loop
            _logger.exception("the serving task of %r failed", self)

    async def _serve(self) -> None:
        """Open the runner, run calls until the caller stops, then close; in its loop."""
        runner = self._runner
        assert runner is not None
        opened = False
        try:
            await runner.open()
            opened = True
            self._started._finish_result(None)
            self._drain()
            await self._stopping
        finally:
            self._request_stop()
            self._begin_stop()
            try:
                if opened:
                    await runner.close()  # trio's nursery must exit at the level it was opened
            finally:
                await self._finish()

    async def _finish(self) -> None:
        with anyio.CancelScope(shield=True):
            for child in self._stopped_children:
                await child._stopped
            self._closed = True
            self._cancel_submissions()
            self._unregister()
            if self._parent is not None:
                with self._parent._children_lock:
                    if self._parent._children.get(self._name) is self:
                        del self._parent._children[self._name]
            if not self._started.done():
                self._started._finish_cancelled()
            if not self._owns_thread:
                self._stopped._finish_result(None)

    async def __aenter__(self) -> Self:
        """Wait until the caller runs; ``async with`` then stops it when the block ends."""
        if self._stop_requested:
            raise CallerStoppedError(self._not_running_message(None))
        await self._started
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the caller and wait until it has stopped.

        A block left with an exception stops even a protected caller, and the exception goes
        on: the error that ended the block is the one to see.

        Raises:
            CallerProtectedError: For a protected caller whose block ended normally without
                ``stop(force=True)``.
        """
        if self._protected and not self._stop_requested and exc is None:
            raise CallerProtectedError(self._protected_message())
        self._stop_without_joining()
        with anyio.CancelScope(shield=True):
            await self._stopped

    def _protected_message(self) -> str:
        return (
            f"{self!r} is protected (the kernel runs on it): it was not stopped. Use "
            "stop(force=True) if you really mean to stop it"
        )

    def _request_stop(self) -> bool:
        with self._stop_lock:
            first = not self._stop_requested
            self._stop_requested = True
        return first

    def stop(self, *, force: bool = False) -> None:
        """Stop the caller: cancel its outstanding calls and stop its children.

        Thread-safe and idempotent. The Pendings of unfinished calls become cancelled. For a
        caller with a thread of its own, its loop ends and its thread exits; when called from
        a plain thread (one without a caller) this also waits for that thread to finish. From
        inside a loop, ``await caller.stopped`` to wait without blocking the loop.

        Args:
            force: Stop a protected caller too.

        Raises:
            CallerProtectedError: If the caller is protected and ``force`` is False.
        """
        if self._protected and not force and not self._stop_requested:
            raise CallerProtectedError(self._protected_message())
        self._stop_without_joining()
        thread = self._thread
        if (
            self._owns_thread
            and thread is not None
            and thread is not threading.current_thread()
            and threading.get_ident() not in self._by_thread
        ):
            thread.join()

    def _stop_without_joining(self) -> None:
        if self._request_stop() and self._runner is not None:
            if threading.get_ident() == self._thread_id:
                self._begin_stop()
            else:
                with contextlib.suppress(RuntimeError):  # the loop has already ended
                    self._runner.call_threadsafe(self._begin_stop)

    def _begin_stop(self) -> None:
        """In the loop: cancel everything; the serving task waits for it to unwind."""
        if self._stopping.done():
            return
        # Children remove themselves from the mapping as they end: remember whom to wait for.
        with self._children_lock:
            self._stopped_children = list(self._children.values())
        for child in self._stopped_children:
            child.stop(force=True)
        self._cancel_submissions()
        if self._runner is not None:
            self._runner.cancel_all()
        self._stopping._finish_result(None)

    async def wait_stopped(self) -> None:
        """Wait until the caller has fully stopped; the same as ``await caller.stopped``."""
        await self._stopped

    @classmethod
    def start_new(
        cls,
        *,
        backend: str = "asyncio",
        name: str | None = None,
        backend_options: dict[str, Any] | None = None,
        protected: bool = False,
    ) -> Caller:
        """The same as ``Caller("NewThread", ...)``, with asyncio as the default backend.

        If the calling thread has a caller, the new one becomes its child.
        """
        return cls(
            "NewThread",
            name=name,
            backend=backend,
            backend_options=backend_options,
            protected=protected,
        )

    # ------------------------------------------------------------------ submitting

    def _submit(
        self,
        kind: int,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        context: contextvars.Context,
        pending: Pending[Any] | None = None,
    ) -> Pending[Any]:
        runner = self._runner
        if self._stop_requested or runner is None:
            raise CallerStoppedError(self._not_running_message(func))
        if pending is None:
            pending = Pending()
        pending._owner_thread = self._thread
        if context.get(_sniffio_cvar) not in (None, self._backend):
            # anyio.run sets this: a context copied from another loop would name its backend.
            context.run(_sniffio_cvar.set, self._backend)
        group = context.get(current_group)
        if group is not None:
            group.add(pending)
        self._submissions.append((kind, pending, func, args, kwargs, context))
        if not self._wake_scheduled:
            self._wake_scheduled = True
            try:
                if threading.get_ident() == self._thread_id:
                    runner.call_local(self._drain)
                else:
                    runner.call_threadsafe(self._drain)
            except RuntimeError:  # the loop ended between the check and the wake-up
                self._closed = True
        if self._closed:
            self._cancel_submissions()
        return pending

    def _not_running_message(self, func: Callable[..., Any] | None) -> str:
        what = "anything" if func is None else getattr(func, "__qualname__", repr(func))
        return (
            f"cannot run {what}: {self!r} has stopped; submit to a running caller, or get "
            "a new one with Caller('NewThread')"
        )

    def _cancel_submissions(self) -> None:
        """Cancel every queued submission; any thread (each item is popped exactly once)."""
        submissions = self._submissions
        while True:
            try:
                item = submissions.popleft()
            except IndexError:
                return
            item[1]._finish_cancelled()

    def _drain(self) -> None:
        """In the loop: start everything submitted so far."""
        self._wake_scheduled = False
        if self._stop_requested:
            self._cancel_submissions()
            return
        runner = self._runner
        assert runner is not None
        submissions = self._submissions
        popleft = submissions.popleft
        spawn = runner.spawn
        for _ in range(_DRAIN_BATCH):
            if not submissions:  # cheaper than the IndexError that ends most drains
                return
            try:
                kind, pending, func, args, kwargs, context = popleft()
            except IndexError:  # another thread cancelled the submissions meanwhile
                return
            if kind == _SOON:
                spawn(pending, self, func, args, kwargs, context)
            elif kind == _DIRECT:
                _run_direct(pending, func, args, kwargs, context)
            else:
                self._queue_for(func).push(pending, args, kwargs, context)
        if submissions:
            # More is queued: let the calls just started take their first step before
            # starting the next batch, so a burst never has all its tasks alive at once.
            self._wake_scheduled = True
            runner.call_local(self._drain)

    def _queue_for(self, func: Callable[..., Any]) -> CallQueue:
        """The queue of ``func``, started on first use; loop thread."""
        queue = self._queues.get(func)
        if queue is None:
            runner = self._runner
            assert runner is not None
            queue = self._queues[func] = CallQueue(runner, self, func, self._forget_queue)
            queue.pending._owner_thread = self._thread
            runner.spawn(queue.pending, self, queue.run, (), {}, contextvars.Context())
        return queue

    def _forget_queue(self, queue: CallQueue) -> None:
        if self._queues.get(queue.func) is queue:
            del self._queues[queue.func]

    def cancel_running(self, handle: Any, msg: str | None, /) -> None:
        """Deliver a `Pending.cancel` to the task ``handle`` in this loop; any thread."""
        runner = self._runner
        assert runner is not None
        if threading.get_ident() == self._thread_id:
            runner.cancel_handle(handle)
        else:
            # If the loop has ended, its exit has cancelled the task already.
            with contextlib.suppress(RuntimeError):
                runner.call_threadsafe(functools.partial(runner.cancel_handle, handle))

    def call_soon(
        self, func: Callable[P, Awaitable[T]] | Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Pending[T]:
        """Run ``func(*args, **kwargs)`` as a new task in this caller's loop.

        Callable from any thread, including the caller's own. ``func`` may be a plain function
        or a coroutine function; the submitter's `contextvars` context is copied into the
        call. Cancelling the returned Pending cancels the task.

        Returns:
            A `Pending` for the call's result.

        Raises:
            CallerStoppedError: If the caller has stopped.
        """
        return self._submit(_SOON, func, args, kwargs, contextvars.copy_context())

    def schedule_call(
        self,
        func: Callable[..., Awaitable[T]] | Callable[..., T],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        context: contextvars.Context | None = None,
    ) -> Pending[T]:
        """Like `call_soon`, with the arguments as a tuple and a dict, and a context to copy.

        Args:
            func: A plain or coroutine function.
            args: Its positional arguments.
            kwargs: Its keyword arguments.
            context: The context to copy into the call; default the submitter's.

        Raises:
            CallerStoppedError: If the caller has stopped.
        """
        context = contextvars.copy_context() if context is None else context.copy()
        return self._submit(_SOON, func, args, kwargs or {}, context)

    def call_later(
        self,
        delay: float,
        func: Callable[P, Awaitable[T]] | Callable[P, T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Pending[T]:
        """Like `call_soon`, but start ``func`` after ``delay`` seconds. Any thread.

        Raises:
            CallerStoppedError: If the caller has stopped.
        """
        return self._submit(
            _SOON, self._delayed, (delay, func, args, kwargs), {}, contextvars.copy_context()
        )

    async def _delayed(
        self, delay: float, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        assert self._runner is not None
        await self._runner.sleep(delay)
        result = func(*args, **kwargs)
        if inspect.iscoroutine(result):
            result = await result
        return result

    def call_direct(self, func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Pending[T]:
        """Run a quick synchronous ``func`` as a plain loop callback, without a task.

        The cheapest way to run something in the loop; any thread. ``func`` must not block
        and cannot await (it runs as a loop callback, not as a task of its own, so it must not
        use task-bound APIs).
        The submitter's context is copied into the call.

        Raises:
            CallerStoppedError: If the caller has stopped.
            TypeError: If ``func`` is a coroutine function; use `call_soon` for those.
        """
        if inspect.iscoroutinefunction(func):
            msg = f"call_direct() runs plain functions; use call_soon() for {func.__qualname__}"
            raise TypeError(msg)
        return self._submit(_DIRECT, func, args, kwargs, contextvars.copy_context())

    def queue_call(
        self, func: Callable[P, Awaitable[T]] | Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Pending[T]:
        """Queue a call of ``func``: calls of the same ``func`` run one at a time, in order.

        Any thread. Each ``func`` (compared with ``==``, so bound methods of one object share
        a queue) has its own FIFO queue in this caller, served by one long-lived task.
        Cancelling a queued Pending cancels just that call; the next one then runs. The
        submitter's context is used for the call.

        Raises:
            CallerStoppedError: If the caller has stopped.
        """
        return self._submit(_QUEUE, func, args, kwargs, contextvars.copy_context())

    def queue_get(self, func: Callable[..., Any], /) -> Pending[None] | None:
        """The Pending of the task that serves ``func``'s queue, or None if it has none.

        It is done once the queue has ended; cancelling it ends the queue, cancelling the
        calls still in it. Any thread (a snapshot).
        """
        queue = self._queues.get(func)
        return None if queue is None or queue.closed else queue.pending

    def queue_close(self, func: Callable[..., Any] | int, /) -> None:
        """End the queue of ``func`` (or of the function with that hash) once it is empty.

        Any thread; calls still queued run first.
        """
        if not self._stop_requested:
            with contextlib.suppress(CallerStoppedError):
                self.call_direct(self._close_queue, func)

    def _close_queue(self, func: Callable[..., Any] | int) -> None:
        if isinstance(func, int):
            queues = [queue for key, queue in self._queues.items() if hash(key) == func]
        else:
            queue = self._queues.get(func)
            queues = [] if queue is None else [queue]
        for queue in queues:
            queue.close()

    # ------------------------------------------------------------------ worker threads

    to_thread = _ToThread()

    def call_using_backend(
        self,
        backend: str,
        func: Callable[P, Awaitable[T]] | Callable[P, T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Pending[T]:
        """Run ``func`` in a pooled worker thread whose loop is ``backend``; any thread.

        This runs code written for one backend from a caller of the other: a trio library
        from an asyncio caller, or the reverse. Worker threads are pooled as for `to_thread`.

        Without threads (see `threads_available`), ``func`` runs as a task of this caller,
        which then must run ``backend`` already.

        Raises:
            UnknownBackendError: If ``backend`` cannot run here.
        """
        check_backend(backend)
        if not threads_available():
            if backend != self._backend:
                msg = f"without threads only this caller's own {self._backend} loop can run calls"
                raise UnknownBackendError(msg)
            return self.call_soon(func, *args, **kwargs)
        return _worker_pool().submit(backend, func, args, kwargs, contextvars.copy_context())

    # ------------------------------------------------------------------ waiting

    def _to_pending(self, item: Awaitable[T]) -> Pending[T]:
        if isinstance(item, Pending):
            return item
        if inspect.iscoroutine(item):
            return self.schedule_call(_identity, (item,))
        return self.schedule_call(_await, (item,))

    async def wait(
        self,
        items: Iterable[Awaitable[Any]],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - mirrors asyncio.wait
        return_when: ReturnWhen = ALL_COMPLETED,
        shield: bool = False,
    ) -> tuple[set[Pending[Any]], set[Pending[Any]]]:
        """Wait for awaitables as ``return_when`` says; from a task of any loop.

        Coroutines (and other awaitables that are not Pendings) are run in this caller and
        come back as Pendings. As with `asyncio.wait`, a timeout is not an error: it returns
        what is done so far, and leaves the rest running.

        Args:
            items: Pendings, coroutines, futures or tasks.
            timeout: Seconds to wait at most.
            return_when: ``"ALL_COMPLETED"``, ``"FIRST_COMPLETED"`` or ``"FIRST_EXCEPTION"``.
            shield: Keep waiting if the awaiting task is cancelled meanwhile.

        Returns:
            ``(done, pending)``: two sets of Pendings.
        """
        return await wait_awaitables(
            self._to_pending, items, timeout=timeout, return_when=return_when, shield=shield
        )

    def as_completed(
        self,
        items: Iterable[Awaitable[T]] | AsyncIterable[Awaitable[T]],
        *,
        max_concurrent: int | None = None,
        cancel_unfinished: bool = True,
    ) -> AsyncGenerator[Pending[T]]:
        """Yield a Pending for each item as it finishes: ``async for p in caller.as_completed(...)``.

        Coroutines (and other awaitables that are not Pendings) are run in this caller.

        Args:
            items: Awaitables, or a (sync or async) generator of them.
            max_concurrent: Take the next item only while fewer than this many are unfinished
                (so a generator starts its work as room allows); None takes them all at once.
            cancel_unfinished: When the iteration ends early, cancel the Pendings that are
                not done. An ``async for`` left with ``break`` ends it only once the iterator
                is collected: wrap it in ``contextlib.aclosing`` to end it at once (trio
                warns about an async generator that was not closed).
        """
        return follow_awaitables(
            self._to_pending,
            items,
            max_concurrent=max_concurrent,
            cancel_unfinished=cancel_unfinished,
        )

    def create_pending_group(
        self,
        *,
        shield: bool = False,
        timeout: float | None = None,
    ) -> PendingGroup:
        """A `PendingGroup`: ``async with caller.create_pending_group() as group:``.

        Every Pending started inside the block joins the group; leaving the block waits for
        all of them. One failure, or cancelling the group, cancels the rest.

        Args:
            shield: Shield the block from cancellation from outside.
            timeout: Seconds for the whole block; then the rest is cancelled and
                `PendingTimeoutError` raised.
        """
        return PendingGroup(_current_call_direct, shield=shield, timeout=timeout)


def _current_call_direct() -> Callable[[Callable[[], object]], object]:
    """How a pending group reaches the loop of its block: that thread's `Caller.call_direct`."""
    return Caller().call_direct


def _calling_backend() -> str:
    """The backend of the loop running in this thread, or asyncio outside any."""
    try:
        backend = sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return "asyncio"
    return backend if backend in BACKENDS else "asyncio"


def _identity(value: T) -> T:
    return value


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _run_direct(
    pending: Pending[Any],
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    context: contextvars.Context,
) -> None:
    if not pending._start(None, None):
        return
    try:
        # No `call_as`: a plain callback is over before anything could ask for its Pending.
        result = context.run(func, *args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - a loop callback must not raise
        pending._finish_raised(exc, cancelled=False)
    else:
        pending._finish_result(result)


class _CallerWorkers:
    """How the worker pool starts, feeds, times and stops worker callers."""

    def start(self, backend: str, name: str) -> Caller:
        worker = Caller._start_thread(
            backend, name, None, protected=False, parent=None, thread_name=name
        )
        worker._is_worker = True
        return worker

    def run(
        self,
        worker: Caller,
        pending: Pending[Any],
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        context: contextvars.Context,
    ) -> None:
        if context.get(_sniffio_cvar) is not None:
            # The submitter's loop is not running in the worker (anyio.run sets this).
            context.run(_sniffio_cvar.set, None)
        kind = _SOON if inspect.iscoroutinefunction(func) else _DIRECT
        worker._submit(kind, func, args, kwargs, context, pending)

    def call_later(self, worker: Caller, delay: float, callback: Callable[[], object]) -> None:
        worker._submit(_SOON, worker._delayed, (delay, callback, (), {}), {}, contextvars.Context())

    def stop(self, worker: Caller) -> None:
        worker._stop_without_joining()

    def thread(self, worker: Caller) -> threading.Thread:
        return worker.thread


_pool: WorkerPool[Caller] | None = None
_pool_lock = threading.Lock()


def _worker_pool() -> WorkerPool[Caller]:
    """The shared pool of worker callers behind `Caller.to_thread`; made on first use."""
    global _pool
    pool = _pool
    if pool is None:
        with _pool_lock:
            pool = _pool
            if pool is None:
                pool = _pool = WorkerPool(_CallerWorkers())
    return pool


def _stop_owned_callers() -> None:
    """At interpreter exit, stop callers whose non-daemon threads would keep it alive."""
    if _pool is not None:
        _pool.shutdown()
    with Caller._registry_lock:
        owned = list(Caller._owned)
    for caller in owned:
        caller.stop(force=True)


# Runs before the interpreter joins non-daemon threads (as concurrent.futures does); atexit
# would run too late. The hook is private, so fall back to nothing if it ever disappears.
_register_atexit = getattr(threading, "_register_atexit", None)
if _register_atexit is not None:
    _register_atexit(_stop_owned_callers)
