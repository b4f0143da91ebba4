"""`TrioRunner`: the Caller's trio adapter, built so that a call costs one scheduler pass.

Design note. Trio code may only checkpoint inside a task, so every call needs one. The plain
way (``run_sync_soon`` to wake the loop, then a new task with its own cancel scope per call)
pays three times: trio runs ``run_sync_soon`` callbacks in a system task of its own, so a task
they start runs one scheduler pass later; starting a task costs ~10 µs; entering a cancel
scope ~4 µs. A cross-thread call took ~50 µs against asyncio's ~31 µs.

Instead, one long-lived *host* task waits on this runner's own `WakeupChannel` (an eventfd
on Linux). A submitting thread queues a callback (the Caller's drain) and signals the
channel; trio's I/O wait reschedules the host directly, and the host runs the callbacks and
then every call they made ready, inline, in that same pass. A call that returns without
suspending (most do) costs no task. A call that suspends keeps the host task it started in:
a fresh host is started to take over the channel, and the old one drives its call to the end
(`InContext`) and exits. Calls still ready at that moment get a task each, as before.

Cancellation: each host enters one cancel scope and reuses it for call after call, replacing
it only once a call has cancelled it. `Pending.cancel` reaches a call through its
`_CallRecord`, which drops the scope when the call ends, so a late cancel cannot reach the
next call in the same scope. Only the loop thread touches hosts, records and scopes.

Closing: the runner switches its callbacks to trio's own ``run_sync_soon`` queue, so
callbacks keep running while the Caller's tasks unwind, stops the hosts and waits for the
nursery. trio is imported only when a trio loop is in use.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections import deque
from types import CoroutineType
from typing import TYPE_CHECKING, Any

from ._in_context import InContext
from ._pending import call_as
from ._runner import Runner
from ._wakeup import WakeupChannel, open_wakeup_channel

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    import trio

    from ._pending import Pending, _Canceller
    from ._runner import CallArgs, CallScope

    _Call = tuple[
        Pending[Any], _Canceller, Callable[..., Any], CallArgs, dict[str, Any], contextvars.Context
    ]
    _Suspended = tuple[
        Pending[Any], "_CallRecord", Coroutine[Any, Any, Any], contextvars.Context, object
    ]

__all__ = ["TrioRunner"]

_logger = logging.getLogger("async_caller")


class _CallRecord:
    """The cancellation handle of one call run by a host: its scope, while the call runs."""

    __slots__ = ("scope",)

    def __init__(self, scope: trio.CancelScope) -> None:
        self.scope: trio.CancelScope | None = scope

    def cancel(self) -> None:
        """Cancel the call if it is still running; loop thread only."""
        scope = self.scope
        if scope is not None:
            scope.cancel()


class TrioRunner(Runner):
    """Runner for trio: calls run inline by host tasks woken through the runner's own channel."""

    backend = "trio"

    def __init__(self) -> None:
        import trio

        self.trio = trio
        self.cancelled_exc_class = trio.Cancelled
        self.token = trio.lowlevel.current_trio_token()
        self.nursery_manager = trio.open_nursery()
        self.nursery: trio.Nursery | None = None
        # Scopes of the calls that suspended and of the system tasks (each in its own task):
        # cancelling the nursery would also cancel the body of ``async with Caller()``.
        self.scopes: set[trio.CancelScope] = set()
        self.closing = False
        # Any thread appends callbacks (under wake_lock); the serving host pops them.
        self.callbacks: deque[Callable[[], object]] = deque()
        self.wake_lock = threading.Lock()
        self.wake_closed = True  # until open() has made the channel
        self.wakeup: WakeupChannel  # made by open()
        # Loop thread only from here on.
        self.ready: deque[_Call] = deque()
        self.serving = False  # a host is in a round: it will see new callbacks and calls
        self.host_scope: trio.CancelScope | None = None  # scope of the listening host
        self.inline: _CallRecord | None = None  # the call a host runs inline right now
        self.hosts_stopping = False
        self.system_tasks = 0  # how many of ``scopes`` belong to system tasks, not calls

    # ------------------------------------------------------------------ waking the host

    def call_threadsafe(self, callback: Callable[[], object]) -> None:
        with self.wake_lock:
            if not self.wake_closed:
                self.callbacks.append(callback)
                self.wakeup.signal()
                return
        # Closing or closed: trio's own queue runs it for as long as the trio run lasts.
        try:
            self.token.run_sync_soon(callback)
        except self.trio.RunFinishedError as exc:
            raise RuntimeError("the trio run has finished") from exc

    def call_local(self, callback: Callable[[], object]) -> None:
        if self.serving and not self.wake_closed:
            self.callbacks.append(callback)  # the serving host runs it before it waits
        else:
            self.call_threadsafe(callback)

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        self.wakeup = open_wakeup_channel()
        self.wake_closed = False
        self.nursery = await self.nursery_manager.__aenter__()
        self.nursery.start_soon(self._host)

    def cancel_all(self) -> None:
        self.closing = True
        for scope in list(self.scopes):
            scope.cancel()
        if self.inline is not None:  # a call running inline stopped its own caller
            self.inline.cancel()

    async def close(self) -> None:
        self.cancel_all()
        with self.wake_lock:
            self.wake_closed = True
        self.hosts_stopping = True
        if self.host_scope is not None:
            self.host_scope.cancel()  # the listening host: stop waiting on the channel
        # Whatever was queued before the switch runs now; later callbacks go to trio.
        while self.callbacks:
            _run_callback(self.callbacks.popleft())
        while self.ready:
            self.ready.popleft()[0]._finish_cancelled()
        await self.nursery_manager.__aexit__(None, None, None)
        self.wakeup.close()

    # ------------------------------------------------------------------ hosts

    async def _host(self) -> None:
        """A host task: serve until a call it runs suspends (then finish it) or the runner closes."""
        trio = self.trio
        while not self.hosts_stopping:
            suspended: _Suspended | None = None
            with trio.CancelScope() as scope:
                suspended = await self._serve(scope)
                if suspended is not None:
                    await self._finish_suspended(scope, *suspended)
            if suspended is not None:
                return  # a new host serves in this one's place since the call suspended

    async def _serve(self, scope: trio.CancelScope) -> _Suspended | None:
        """Run callbacks and ready calls, then wait for the channel; repeat.

        Returns the call that suspended, once one did (a new host is serving then), or None
        when ``scope`` was cancelled by a call and must be replaced, or the runner is closing.
        """
        trio = self.trio
        callbacks, ready = self.callbacks, self.ready
        self.host_scope = scope
        self.serving = True
        try:
            while not self.hosts_stopping:
                for _ in range(len(callbacks)):  # bounded: a callback may queue another
                    _run_callback(callbacks.popleft())
                while ready:
                    suspended = self._run_inline(scope, ready.popleft())
                    if suspended is not None:
                        self._hand_over()
                        return suspended
                    if scope.cancel_called:
                        return None
                if callbacks or ready:
                    await trio.lowlevel.cancel_shielded_checkpoint()  # let other tasks run
                    continue
                self.serving = False
                await trio.lowlevel.wait_readable(self.wakeup)
                self.serving = True
                self.wakeup.drain()
            return None
        finally:
            if self.host_scope is scope:
                self.host_scope = None
                self.serving = False

    def _run_inline(self, scope: trio.CancelScope, call: _Call) -> _Suspended | None:
        """Run one call in this host, up to its first suspension; loop thread.

        Returns None if the call is over (its Pending is settled), or what `_finish_suspended`
        needs to drive it on: the host must then hand over (`_hand_over`) and await it at
        once, running no other code in between, since the call's first await has already
        told trio about this task.
        """
        pending, canceller, func, args, kwargs, context = call
        if self.closing:
            pending._finish_cancelled()
            return None
        record = _CallRecord(scope)
        if not pending._start(canceller, record):
            return None
        self.inline = record
        try:
            result = context.run(call_as, pending, func, args, kwargs)
            if type(result) is CoroutineType:
                try:
                    yielded = context.run(result.send, None)
                except StopIteration as stop:
                    result = stop.value
                else:
                    self.inline = None
                    self.scopes.add(scope)
                    return pending, record, result, context, yielded
        except BaseException as exc:
            record.scope = self.inline = None
            if self._settle_failure(pending, scope, exc):
                raise
            return None
        record.scope = self.inline = None
        pending._finish_result(result)
        return None

    def _hand_over(self) -> None:
        """The serving host's call suspended: start a new host to serve in its place.

        The calls still ready get a task each, all started in the next pass: left to the new
        host, a burst of calls that all suspend would start one per pass. This runs between
        the call's suspension and the host's yield to trio, so it must run no user code.
        """
        nursery = self.nursery
        assert nursery is not None
        self.host_scope = None
        self.serving = False
        nursery.start_soon(self._host)
        ready = self.ready
        while ready:
            pending, canceller, func, args, kwargs, context = ready.popleft()
            # start_soon copies the current context: start the task inside the call's.
            context.run(
                nursery.start_soon, self._run_in_own_task, pending, canceller, func, args, kwargs
            )

    async def _run_in_own_task(
        self,
        pending: Pending[Any],
        canceller: _Canceller,
        func: Callable[..., Any],
        args: CallArgs,
        kwargs: dict[str, Any],
    ) -> None:
        """Run one call as a task of its own, already in the call's context, with its own scope."""
        if self.closing:
            pending._finish_cancelled()
            return
        with self.trio.CancelScope() as scope:
            if not pending._start(canceller, scope):
                return
            self.scopes.add(scope)
            try:
                result = call_as(pending, func, args, kwargs)
                if type(result) is CoroutineType:
                    result = await result
            except BaseException as exc:
                if self._settle_failure(pending, scope, exc):
                    raise
            else:
                pending._finish_result(result)
            finally:
                self.scopes.discard(scope)

    async def _finish_suspended(
        self,
        scope: trio.CancelScope,
        pending: Pending[Any],
        record: _CallRecord,
        coro: Coroutine[Any, Any, Any],
        context: contextvars.Context,
        yielded: object,
    ) -> None:
        """Drive a call that suspended to its end, in the host task that started it."""
        try:
            result = await InContext(coro, context, yielded)
        except BaseException as exc:
            if self._settle_failure(pending, scope, exc):
                raise
        else:
            pending._finish_result(result)
        finally:
            record.scope = None
            self.scopes.discard(scope)

    def _settle_failure(
        self, pending: Pending[Any], scope: trio.CancelScope, exc: BaseException
    ) -> bool:
        """Settle ``pending`` after its call raised ``exc``; return True if it must propagate.

        A cancellation propagates so that its scope catches it; so does what is not an
        `Exception` (KeyboardInterrupt, SystemExit), which ends the Caller as it would a task.
        """
        cancelled = isinstance(exc, self.trio.Cancelled) or (
            # A nursery inside the call wraps our cancellation in a group.
            scope.cancel_called and self._only_cancelled(exc)
        )
        return pending._finish_raised(exc, cancelled=cancelled)

    def _only_cancelled(self, exc: BaseException) -> bool:
        if isinstance(exc, BaseExceptionGroup):
            return all(self._only_cancelled(inner) for inner in exc.exceptions)
        return isinstance(exc, self.trio.Cancelled)

    # ------------------------------------------------------------------ Runner operations

    def spawn(
        self,
        pending: Pending[Any],
        canceller: _Canceller,
        func: Callable[..., Any],
        args: CallArgs,
        kwargs: dict[str, Any],
        context: contextvars.Context,
    ) -> None:
        self.ready.append((pending, canceller, func, args, kwargs, context))
        if not self.serving:
            self.call_local(_nothing)  # wake a host to run it

    def call_scopes(self) -> Callable[[], CallScope]:
        return self.trio.CancelScope

    def start_serving(self, async_fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.trio.lowlevel.spawn_system_task(async_fn, context=contextvars.Context())

    def runs_here(self) -> bool:
        try:
            return self.trio.lowlevel.current_trio_token() is self.token
        except RuntimeError:  # no trio run in this thread now
            return False

    def running_calls(self) -> int:
        inline = 1 if self.inline is not None else 0
        return max(0, len(self.scopes) - self.system_tasks) + inline

    def spawn_system(self, async_fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        assert self.nursery is not None
        self.nursery.start_soon(self._run_system, async_fn)

    async def _run_system(self, async_fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        with self.trio.CancelScope() as scope:
            if self.closing:
                scope.cancel()
            self.scopes.add(scope)
            self.system_tasks += 1
            try:
                await async_fn()
            finally:
                self.system_tasks -= 1
                self.scopes.discard(scope)

    async def sleep(self, delay: float) -> None:
        await self.trio.sleep(delay)


def _run_callback(callback: Callable[[], object]) -> None:
    """Run a callback; log what it raises, as a loop does, rather than end the host."""
    try:
        callback()
    except Exception:
        _logger.exception("callback %r of a trio Caller raised", callback)


def _nothing() -> None:
    """A callback that only wakes a host."""
