"""`AsyncioRunner`: the Caller's asyncio adapter.

Design note: the hot path (one call = one task) uses the cheapest native task,
``loop.create_task(coro, context=ctx)``, wrapped by ``_run_call``, which links the task to its
`Pending` so that a cancel from any thread reaches the task.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from types import CoroutineType
from typing import TYPE_CHECKING, Any

import anyio

from ._pending import current_pending
from ._runner import CallArgs, Runner, running_backend

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from types import TracebackType
    from typing import Self

    from ._pending import Pending, _Canceller
    from ._runner import CallScope

__all__ = ["AsyncioCallScope", "AsyncioRunner"]

_CANCEL_AGAIN_AFTER = 0.05
"""Seconds a closing asyncio runner waits before cancelling its remaining tasks again."""


class AsyncioCallScope:
    """Cancels one call of a long-lived asyncio task, not the task itself (loop thread).

    A native stand-in for a cancel scope, without anyio's per-scope bookkeeping. The task is
    cancelled (``task.cancel()``) only while it is suspended inside the call, so the
    ``CancelledError`` lands in the call: a call that cancels itself gets it once it next
    suspends. At exit the scope takes its request back (``uncancel``) and swallows the
    ``CancelledError`` unless the task was also cancelled by someone else (the caller
    stopping), which then goes on. Like a task's cancellation it is delivered once.
    """

    __slots__ = ("_closed", "_delivered", "_loop", "_task", "cancel_called")

    def __init__(self, task: asyncio.Task[Any], loop: asyncio.AbstractEventLoop) -> None:
        self._task = task
        self._loop = loop
        self._closed = False
        self._delivered = False
        self.cancel_called = False

    def __enter__(self) -> Self:
        return self

    def cancel(self) -> None:
        if self._closed or self.cancel_called:
            return
        self.cancel_called = True
        if asyncio.current_task(self._loop) is self._task:
            self._loop.call_soon(self._deliver)  # the call cancels itself: wait until it yields
        else:
            self._deliver()

    def _deliver(self) -> None:
        if not self._closed:
            self._delivered = True
            self._task.cancel()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        self._closed = True
        if not self._delivered:
            return False
        others = self._task.uncancel()
        return others == 0 and exc_type is not None and issubclass(exc_type, asyncio.CancelledError)


class AsyncioRunner(Runner):
    """Runner for asyncio: native tasks, ``call_soon_threadsafe`` wake-ups."""

    backend = "asyncio"
    cancelled_exc_class = asyncio.CancelledError

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.tasks: dict[asyncio.Task[Any], Pending[Any] | None] = {}
        self.closing = False
        self.serving_task: asyncio.Task[None] | None = None

    def call_threadsafe(self, callback: Callable[[], object]) -> None:
        self.loop.call_soon_threadsafe(callback)

    def call_local(self, callback: Callable[[], object]) -> None:
        self.loop.call_soon(callback)

    def spawn(
        self,
        pending: Pending[Any],
        canceller: _Canceller,
        func: Callable[..., Any],
        args: CallArgs,
        kwargs: dict[str, Any],
        context: contextvars.Context,
    ) -> None:
        task = self.loop.create_task(
            self._run_call(pending, canceller, func, args, kwargs), context=context
        )
        self.tasks[task] = pending

    async def _run_call(
        self,
        pending: Pending[Any],
        canceller: _Canceller,
        func: Callable[..., Any],
        args: CallArgs,
        kwargs: dict[str, Any],
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        try:
            if self.closing:
                pending._finish_cancelled()
                return
            if not pending._start(canceller, task):
                return
            current_pending.set(pending)
            try:
                result = func(*args, **kwargs)
                if type(result) is CoroutineType:
                    result = await result
            except BaseException as exc:
                cancelled = isinstance(exc, asyncio.CancelledError)
                if pending._finish_raised(exc, cancelled=cancelled) and not cancelled:
                    raise  # the task ends with it; its own cancellation ends here
            else:
                pending._finish_result(result)
        finally:
            self.tasks.pop(task, None)

    def call_scopes(self) -> Callable[[], CallScope]:
        task = asyncio.current_task()
        assert task is not None
        return functools.partial(AsyncioCallScope, task, self.loop)

    def spawn_system(self, async_fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        task = self.loop.create_task(async_fn())
        self.tasks[task] = None
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self.tasks.pop(task, None)

    def start_serving(self, async_fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.serving_task = self.loop.create_task(async_fn(), context=contextvars.Context())

    def runs_here(self) -> bool:
        return running_backend() == "asyncio" and asyncio.get_running_loop() is self.loop

    def running_calls(self) -> int:
        return sum(1 for pending in list(self.tasks.values()) if pending is not None)

    def cancel_all(self) -> None:
        self.closing = True
        for task in self.tasks:
            task.cancel()

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._close()

    async def _close(self) -> None:
        while self.tasks:
            tasks = dict(self.tasks)
            self.cancel_all()
            # asyncio cancels a task once: one whose code swallowed the CancelledError (a
            # cell that catches BaseException) would run on, waiting forever. Cancel the
            # tasks still running again, as anyio's cancel scopes do, until all have ended.
            done, _ = await asyncio.wait(tasks, timeout=_CANCEL_AGAIN_AFTER)
            for task in done:
                pending = tasks[task]
                # A task cancelled before its first step never ran its body.
                self.tasks.pop(task, None)
                if pending is not None:
                    pending._finish_cancelled()

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(delay)
