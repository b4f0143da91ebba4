"""`CallQueue`: the FIFO behind `Caller.queue_call`, one long-lived worker task per function.

Design note: every queued call must run in its submitter's `contextvars` context, yet all of
them run in the one worker task, and a task's context cannot be swapped. So a coroutine is
driven step by step inside its context (`InContext`).
"""

from __future__ import annotations

import inspect
from collections import deque
from typing import TYPE_CHECKING, Any

import anyio

from ._in_context import InContext
from ._pending import Pending, call_as

if TYPE_CHECKING:
    import contextvars
    from collections.abc import Callable

    from ._pending import _Canceller
    from ._runner import CallScope, Runner

__all__ = ["CallQueue"]


class CallQueue:
    """Calls of one function, run one after another in submission order; loop thread only."""

    def __init__(
        self,
        runner: Runner,
        canceller: _Canceller,
        func: Callable[..., Any],
        on_end: Callable[[CallQueue], object],
    ) -> None:
        self.runner = runner
        self.canceller = canceller
        self.func = func
        self.on_end = on_end
        self.busy = False  # a call of the queue is running
        self.pending: Pending[None] = Pending()  # settled when the worker task ends
        self.items: deque[tuple[Pending[Any], tuple[Any, ...], dict[str, Any], contextvars.Context]]
        self.items = deque()
        self.wakeup: anyio.Event | None = None
        self.closed = False
        self.cancelled_exc_class = runner.cancelled_exc_class

    def push(
        self,
        pending: Pending[Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        context: contextvars.Context,
    ) -> None:
        """Append a call; wake the worker if it is idle."""
        self.items.append((pending, args, kwargs, context))
        if self.wakeup is not None:
            self.wakeup.set()

    def close(self) -> None:
        """Let the worker end once the queue is empty."""
        self.closed = True
        if self.wakeup is not None:
            self.wakeup.set()

    async def run(self) -> None:
        """The worker task: run queued calls until closed or cancelled.

        It runs as a call of the Caller with a Pending of its own (`Caller.queue_get`), so
        cancelling that Pending ends the queue, cancelling the calls still in it.
        """
        items = self.items
        new_scope = self.runner.call_scopes()
        try:
            while True:
                while items:
                    pending, args, kwargs, context = items.popleft()
                    self.busy = True
                    try:
                        await self._run_one(new_scope(), pending, args, kwargs, context)
                    finally:
                        self.busy = False
                if self.closed:
                    return
                self.wakeup = anyio.Event()
                await self.wakeup.wait()
                self.wakeup = None
        finally:
            self.closed = True
            while items:
                items.popleft()[0]._finish_cancelled()
            self.on_end(self)

    async def _run_one(
        self,
        scope: CallScope,
        pending: Pending[Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        context: contextvars.Context,
    ) -> None:
        # A native scope per call (see `Runner.call_scopes`): cancelling the Pending cancels
        # this call only, and the worker goes on with the next one.
        with scope:
            if not pending._start(self.canceller, scope):
                return
            try:
                result = context.run(call_as, pending, self.func, args, kwargs)
                if inspect.iscoroutine(result):
                    # Take the first step here: a call that never suspends (most handlers)
                    # then costs no trampoline.
                    try:
                        first = context.run(result.send, None)
                    except StopIteration as stop:
                        result = stop.value
                    else:
                        result = await InContext(result, context, first)
            except BaseException as exc:
                if pending._finish_raised(exc, cancelled=isinstance(exc, self.cancelled_exc_class)):
                    raise
            else:
                pending._finish_result(result)
