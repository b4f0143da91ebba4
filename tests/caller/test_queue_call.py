from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import aiologic
import anyio
import anyio.lowlevel
import pytest

from async_caller import Caller, PendingCancelledError

if TYPE_CHECKING:
    from collections.abc import Callable

    from async_caller import Pending


def test_queue_call_runs_in_submission_order(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """Calls of one function run one at a time, in the order they were queued."""
    caller = start_caller(thread_backend)
    order: list[int] = []
    running = 0
    overlap = False

    async def record(i: int) -> int:
        nonlocal running, overlap
        running += 1
        overlap = overlap or running > 1
        await anyio.lowlevel.checkpoint()
        order.append(i)
        running -= 1
        return i

    pendings = [caller.queue_call(record, i) for i in range(200)]
    assert [p.wait(10) for p in pendings] == list(range(200))
    assert order == list(range(200))
    assert not overlap


def test_cancel_one_queued_call_runs_the_next(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """Cancelling a queued call (running or waiting) cancels only that call."""
    caller = start_caller(thread_backend)
    started = threading.Event()

    async def step(i: int) -> int:
        if i == 0:
            started.set()
            await anyio.sleep_forever()
        return i

    first = caller.queue_call(step, 0)
    second = caller.queue_call(step, 1)
    third = caller.queue_call(step, 2)
    assert started.wait(5)
    assert second.cancel()
    assert first.cancel("interrupt")
    with pytest.raises(PendingCancelledError, match="interrupt"):
        first.wait(5)
    assert third.wait(5) == 2
    assert second.cancelled()


def test_separate_functions_have_separate_queues(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """A blocked queue does not hold up the queue of another function."""
    caller = start_caller(thread_backend)
    release = aiologic.Event()

    async def blocked() -> str:
        await release
        return "released"

    def quick() -> str:
        return "quick"

    slow: Pending[str] = caller.queue_call(blocked)
    assert caller.queue_call(quick).wait(5) == "quick"
    release.set()
    assert slow.wait(5) == "released"
