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
    assert [p.wait_sync(10) for p in pendings] == list(range(200))
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
        first.wait_sync(5)
    assert third.wait_sync(5) == 2
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
    assert caller.queue_call(quick).wait_sync(5) == "quick"
    release.set()
    assert slow.wait_sync(5) == "released"


def test_queued_call_that_cancels_itself_stops_at_its_next_await(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """A queued call cancelling its own Pending stops where it next awaits; the next one runs."""
    caller = start_caller(thread_backend)
    mine: list[Pending[str]] = []
    reached_after_await = False

    async def step(i: int) -> str:
        nonlocal reached_after_await
        if i == 0:
            mine[0].cancel("self")
        await anyio.lowlevel.checkpoint()
        if i == 0:
            reached_after_await = True
        return f"step {i}"

    async def submit() -> None:  # in the loop: the Pending is known before the call runs
        mine.append(caller.queue_call(step, 0))

    caller.call_soon(submit).wait_sync(5)
    following = caller.queue_call(step, 1)
    with pytest.raises(PendingCancelledError, match="self"):
        mine[0].wait_sync(5)
    assert not reached_after_await
    assert following.wait_sync(5) == "step 1"


def test_queued_call_cancelled_after_its_last_await_leaves_the_next_call_alone(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """A cancel that comes when the call has no await left cancels nothing queued after it."""
    caller = start_caller(thread_backend)
    mine: list[Pending[str]] = []

    async def step(i: int) -> str:
        if i == 0:
            mine[0].cancel()
            return "finished"
        await anyio.lowlevel.checkpoint()
        await anyio.lowlevel.checkpoint()
        return "untouched"

    async def submit() -> None:
        mine.append(caller.queue_call(step, 0))

    caller.call_soon(submit).wait_sync(5)
    following = caller.queue_call(step, 1)
    assert mine[0].wait_sync(5) == "finished"
    assert following.wait_sync(5) == "untouched"
