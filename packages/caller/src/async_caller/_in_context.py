"""`InContext`: finish a started coroutine inside a `contextvars` context of its own.

Design note: a task's context cannot be swapped, yet a long-lived task (a `queue_call`
worker, a trio call host) runs calls that each belong to their submitter's context. So the
coroutine is driven step by step: each ``send``/``throw`` into it runs under
``context.run``, while the awaits it yields pass through the task unchanged, so the event
loop sees the task waiting on exactly what the coroutine waits on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import contextvars
    from collections.abc import Coroutine, Generator

__all__ = ["InContext"]


class InContext:
    """Await ``coro``, already started (it yielded ``first``), each step inside ``context``."""

    __slots__ = ("context", "coro", "first")

    def __init__(
        self, coro: Coroutine[Any, Any, Any], context: contextvars.Context, first: Any
    ) -> None:
        self.coro = coro
        self.context = context
        self.first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        run, coro = self.context.run, self.coro
        yielded = self.first
        while True:
            error: BaseException | None = None
            value: Any = None
            try:
                value = yield yielded
            except BaseException as exc:  # noqa: BLE001 - forwarded into the coroutine
                error = exc
            try:
                yielded = run(coro.send, value) if error is None else run(coro.throw, error)
            except StopIteration as stop:
                return stop.value
