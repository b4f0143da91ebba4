"""Backend adapters: the few things a `Caller` needs from asyncio or trio, done natively.

Design note: the hot path (one call = one task) uses each backend's cheapest native task:
``loop.create_task(coro, context=ctx)`` on asyncio and ``nursery.start_soon`` on trio, each
wrapped by `run_call`, which links the task to its `Pending` so that a cancel from any thread
reaches the task. Everything else in the package is backend-neutral (anyio, aiologic).
trio is imported only when a trio loop is in use.
"""

from __future__ import annotations

import asyncio
from types import CoroutineType
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    import contextvars
    from collections.abc import Callable, Coroutine

    from ._pending import Pending, _Canceller

__all__ = ["AsyncioRunner", "Runner", "TrioRunner", "create_runner"]

CallArgs = tuple[Any, ...]


class Runner:
    """Backend-specific operations, each documented with the thread it may be called from."""

    backend: str

    def call_threadsafe(self, callback: Callable[[], object]) -> None:
        """Run ``callback()`` soon in the loop; any thread. Raises RuntimeError once closed."""
        raise NotImplementedError

    def call_local(self, callback: Callable[[], object]) -> None:
        """Run ``callback()`` soon in the loop; loop thread only."""
        raise NotImplementedError

    def spawn(
        self,
        pending: Pending[Any],
        canceller: _Canceller,
        func: Callable[..., Any],
        args: CallArgs,
        kwargs: dict[str, Any],
        context: contextvars.Context,
    ) -> None:
        """Start ``func`` as a new task linked to ``pending``; loop thread only."""
        raise NotImplementedError

    def spawn_system(self, async_fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Start an internal long-lived task (queue worker); loop thread only."""
        raise NotImplementedError

    def cancel_handle(self, handle: Any) -> None:
        """Cancel a task handle given to `Pending._start`; loop thread only."""
        handle.cancel()

    async def open(self) -> None:
        """Prepare to run tasks; in the loop, from the task entering the Caller."""

    def cancel_all(self) -> None:
        """Cancel every task this runner started; loop thread only."""
        raise NotImplementedError

    async def close(self) -> None:
        """Wait for every task to end; from the task that entered the Caller."""
        raise NotImplementedError

    async def sleep(self, delay: float) -> None:
        """Sleep natively."""
        raise NotImplementedError


_CANCEL_AGAIN_AFTER = 0.05
"""Seconds a closing asyncio runner waits before cancelling its remaining tasks again."""


class AsyncioRunner(Runner):
    """Runner for asyncio: native tasks, ``call_soon_threadsafe`` wake-ups."""

    backend = "asyncio"

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.tasks: dict[asyncio.Task[Any], Pending[Any] | None] = {}
        self.closing = False

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
            try:
                result = func(*args, **kwargs)
                if type(result) is CoroutineType:
                    result = await result
            except asyncio.CancelledError:
                pending._finish_cancelled()
            except BaseException as exc:
                pending._finish_exception(exc)
                if not isinstance(exc, Exception):
                    raise
            else:
                pending._finish_result(result)
        finally:
            self.tasks.pop(task, None)

    def spawn_system(self, async_fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        task = self.loop.create_task(async_fn())
        self.tasks[task] = None
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self.tasks.pop(task, None)

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


class TrioRunner(Runner):
    """Runner for trio: tasks in a nursery owned by the Caller, ``run_sync_soon`` wake-ups."""

    backend = "trio"

    def __init__(self) -> None:
        import trio

        self.trio = trio
        self.token = trio.lowlevel.current_trio_token()
        self.nursery_manager = trio.open_nursery()
        self.nursery: trio.Nursery | None = None
        # Each task has its own scope: cancelling the nursery would also cancel the body of
        # ``async with Caller()``, which asyncio callers do not do.
        self.scopes: set[trio.CancelScope] = set()
        self.closing = False

    def call_threadsafe(self, callback: Callable[[], object]) -> None:
        try:
            self.token.run_sync_soon(callback)
        except self.trio.RunFinishedError as exc:
            raise RuntimeError("the trio run has finished") from exc

    call_local = call_threadsafe

    async def open(self) -> None:
        self.nursery = await self.nursery_manager.__aenter__()

    def spawn(
        self,
        pending: Pending[Any],
        canceller: _Canceller,
        func: Callable[..., Any],
        args: CallArgs,
        kwargs: dict[str, Any],
        context: contextvars.Context,
    ) -> None:
        assert self.nursery is not None
        # start_soon copies the current context: run it inside the submitter's context.
        context.run(self.nursery.start_soon, self._run_call, pending, canceller, func, args, kwargs)

    async def _run_call(
        self,
        pending: Pending[Any],
        canceller: _Canceller,
        func: Callable[..., Any],
        args: CallArgs,
        kwargs: dict[str, Any],
    ) -> None:
        if self.closing:
            pending._finish_cancelled()
            return
        with self.trio.CancelScope() as scope:
            if not pending._start(canceller, scope):
                return
            self.scopes.add(scope)
            try:
                result = func(*args, **kwargs)
                if type(result) is CoroutineType:
                    result = await result
            except self.trio.Cancelled:
                pending._finish_cancelled()
                raise
            except BaseException as exc:
                if scope.cancel_called and self._only_cancelled(exc):
                    # A nursery inside the call wraps our cancellation in a group.
                    pending._finish_cancelled()
                    raise
                pending._finish_exception(exc)
                if not isinstance(exc, Exception):
                    raise
            else:
                pending._finish_result(result)
            finally:
                self.scopes.discard(scope)

    def _only_cancelled(self, exc: BaseException) -> bool:
        if isinstance(exc, BaseExceptionGroup):
            return all(self._only_cancelled(inner) for inner in exc.exceptions)
        return isinstance(exc, self.trio.Cancelled)

    def spawn_system(self, async_fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        assert self.nursery is not None
        self.nursery.start_soon(self._run_system, async_fn)

    async def _run_system(self, async_fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        with self.trio.CancelScope() as scope:
            if self.closing:
                scope.cancel()
            self.scopes.add(scope)
            try:
                await async_fn()
            finally:
                self.scopes.discard(scope)

    def cancel_all(self) -> None:
        self.closing = True
        for scope in list(self.scopes):
            scope.cancel()

    async def close(self) -> None:
        self.cancel_all()
        await self.nursery_manager.__aexit__(None, None, None)

    async def sleep(self, delay: float) -> None:
        await self.trio.sleep(delay)


def create_runner(backend: str) -> Runner:
    """Return the runner for ``backend`` (the running loop's library); in that loop."""
    if backend == "asyncio":
        return AsyncioRunner()
    if backend == "trio":
        return TrioRunner()
    msg = f"async_caller cannot run on the {backend!r} event loop; use asyncio or trio"
    raise RuntimeError(msg)
