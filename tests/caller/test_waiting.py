"""Waiting: Caller.wait and Caller.as_completed over any awaitables, pending groups, and the
awaitable Pending.wait with its timeout, shield, protect and result options."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import TYPE_CHECKING, Any

import aiologic
import anyio
import anyio.lowlevel
import pytest

from async_caller import (
    FIRST_COMPLETED,
    FIRST_EXCEPTION,
    Caller,
    Pending,
    PendingCancelled,
    PendingTimeoutError,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

pytestmark = pytest.mark.anyio


async def value_after_checkpoint(value: int) -> int:
    await anyio.lowlevel.checkpoint()
    return value


async def test_wait_runs_coroutines_and_returns_pendings(anyio_backend: str) -> None:
    """Caller.wait takes coroutines, Pendings and (on asyncio) tasks; all come back Pendings."""
    caller = Caller()
    items: list[Any] = [value_after_checkpoint(1), caller.call_soon(value_after_checkpoint, 2)]
    if anyio_backend == "asyncio":
        items.append(asyncio.ensure_future(value_after_checkpoint(3)))
    with anyio.fail_after(10):
        done, not_done = await caller.wait(items)
    assert not not_done
    assert all(isinstance(pending, Pending) for pending in done)
    assert sorted(pending.result() for pending in done) == list(range(1, len(items) + 1))


async def test_wait_first_completed_first_exception_and_timeout(anyio_backend: str) -> None:
    """return_when and timeout behave as in asyncio.wait; a timeout is not an error."""
    del anyio_backend
    caller = Caller()
    forever = caller.call_soon(anyio.sleep_forever)
    quick = caller.call_soon(value_after_checkpoint, 1)
    with anyio.fail_after(10):
        done, not_done = await caller.wait([forever, quick], return_when=FIRST_COMPLETED)
        assert done == {quick}
        assert not_done == {forever}
        failing = caller.call_soon(divmod, 1, 0)
        done, not_done = await caller.wait([forever, failing], return_when=FIRST_EXCEPTION)
        assert done == {failing}
        done, not_done = await caller.wait([forever], timeout=0.01)
        assert not done
        assert not_done == {forever}
        assert not forever.done()  # left running
        await forever.cancel_wait()
    assert forever.cancelled()


async def test_wait_shield_outlives_the_cancelled_waiter(anyio_backend: str) -> None:
    """With shield=True, cancelling the waiting task does not interrupt the wait."""
    del anyio_backend
    caller = Caller()
    release = aiologic.Event()

    async def released() -> str:
        await release
        return "released"

    pending = caller.call_soon(released)
    done: set[Pending[Any]] = set()
    with anyio.fail_after(10):
        with anyio.CancelScope() as scope:
            scope.cancel()
            caller.call_soon(release.set)
            done, _ = await caller.wait([pending], shield=True)
        assert done == {pending}
        assert pending.result() == "released"


async def test_as_completed_yields_in_finishing_order(anyio_backend: str) -> None:
    """as_completed yields each item's Pending once it is done, in the order they finish."""
    del anyio_backend
    caller = Caller()
    gates = [aiologic.Event() for _ in range(3)]

    async def gated(number: int) -> int:
        await gates[number]
        return number

    pendings = [caller.call_soon(gated, number) for number in range(3)]
    order: list[int] = []
    with anyio.fail_after(10):
        gates[2].set()
        async for pending in caller.as_completed(pendings):
            order.append(pending.result())
            if len(order) < 3:
                gates[1 - len(order) + 1].set()  # then 1, then 0
    assert order == [2, 1, 0]


async def test_as_completed_limits_concurrency_of_a_generator(anyio_backend: str) -> None:
    """With max_concurrent, a generator's items start only as earlier ones finish."""
    del anyio_backend
    running = 0
    most = 0

    async def counted(value: int) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await anyio.lowlevel.checkpoint()
        running -= 1
        return value

    def items() -> Iterator[Any]:
        for value in range(8):
            yield counted(value)

    caller = Caller()
    with anyio.fail_after(10):
        results = [p.result() async for p in caller.as_completed(items(), max_concurrent=2)]
    assert sorted(results) == list(range(8))
    assert most <= 2


async def test_as_completed_takes_an_async_generator_and_cancels_the_rest(
    anyio_backend: str,
) -> None:
    """An async generator works too; leaving early cancels the unfinished ones."""
    del anyio_backend
    caller = Caller()
    forever = caller.call_soon(anyio.sleep_forever)

    async def items() -> AsyncIterator[Any]:
        yield value_after_checkpoint(1)
        yield forever

    with anyio.fail_after(10):
        async with contextlib.aclosing(caller.as_completed(items())) as completed:
            async for pending in completed:
                assert pending.result() == 1
                break
        await forever.wait(result=False)
    assert forever.cancelled()


async def test_pending_group_waits_for_every_call(anyio_backend: str) -> None:
    """Leaving a pending group waits for every Pending started inside, nested ones too."""
    del anyio_backend
    caller = Caller()
    finished: list[str] = []

    async def inner() -> None:
        await anyio.lowlevel.checkpoint()
        finished.append("inner")

    async def outer() -> None:
        caller.call_soon(inner)  # started by a call of the group: joins it too
        await anyio.lowlevel.checkpoint()
        finished.append("outer")

    with anyio.fail_after(10):
        async with caller.create_pending_group() as group:
            caller.call_soon(outer)
            caller.to_thread(finished.append, "to_thread")
            assert group.pendings
        assert sorted(finished) == ["inner", "outer", "to_thread"]
        assert not group.pendings


async def test_pending_group_with_one_failure_cancels_the_rest(anyio_backend: str) -> None:
    """One failing call cancels the others and the body; its error leaves the async with."""
    del anyio_backend
    caller = Caller()
    body_cancelled = False

    async def fail() -> None:
        await anyio.lowlevel.checkpoint()
        raise KeyError("one failed")

    sleepers: list[Pending[None]] = []

    async def body() -> None:
        nonlocal body_cancelled
        async with caller.create_pending_group():
            sleepers.extend(caller.call_soon(anyio.sleep_forever) for _ in range(3))
            caller.call_soon(fail)
            try:
                await anyio.sleep_forever()
            except anyio.get_cancelled_exc_class():
                body_cancelled = True
                raise

    with anyio.fail_after(10):
        with pytest.raises(KeyError, match="one failed"):
            await body()
    assert body_cancelled
    assert all(sleeper.cancelled() for sleeper in sleepers)


async def test_pending_group_cancel_and_timeout(anyio_backend: str) -> None:
    """cancel() ends a group quietly; a timeout cancels the rest and raises."""
    del anyio_backend
    caller = Caller()
    sleeper = caller.call_soon(anyio.sleep_forever)
    late = caller.call_soon(anyio.sleep_forever)

    async def time_out() -> None:
        async with caller.create_pending_group(timeout=0.01) as group:
            group.add(late)

    with anyio.fail_after(10):
        async with caller.create_pending_group() as group:
            group.add(sleeper)
            group.cancel()
        assert group.cancelled
        assert sleeper.cancelled()
        with pytest.raises(PendingTimeoutError, match="not done after 0.01 s"):
            await time_out()
        assert late.cancelled()


async def test_pending_wait_timeout_cancels_unless_protected(anyio_backend: str) -> None:
    """await pending.wait(timeout) cancels the Pending on timeout; protect=True keeps it."""
    del anyio_backend
    caller = Caller()
    with anyio.fail_after(10):
        kept = caller.call_soon(anyio.sleep_forever)
        with pytest.raises(PendingTimeoutError, match="keeps running"):
            await kept.wait(0.01, protect=True)
        assert not kept.done()
        with pytest.raises(PendingTimeoutError, match="was cancelled"):
            await kept.wait(0.01)
        assert await kept.wait(result=False) is None
        assert kept.cancelled()
        with pytest.raises(PendingCancelled):
            await kept.wait()


async def test_pending_wait_shield(anyio_backend: str) -> None:
    """shield=True keeps waiting through the waiter's cancellation; without it the wait ends."""
    del anyio_backend
    caller = Caller()
    release = aiologic.Event()

    async def released() -> str:
        await release
        return "released"

    pending = caller.call_soon(released)
    with anyio.fail_after(10):
        with anyio.CancelScope() as scope:
            scope.cancel()
            await pending.wait()
        assert not pending.done()  # the waiter was cancelled, not the Pending
        with anyio.CancelScope() as scope:
            scope.cancel()
            caller.call_soon(release.set)
            assert await pending.wait(shield=True) == "released"


def test_pending_wait_from_a_plain_thread_names_wait_sync() -> None:
    """wait() outside any loop would only make an un-awaited coroutine: it raises instead."""
    pending: Pending[int] = Pending()
    with pytest.raises(TypeError, match="wait_sync"):
        pending.wait()  # pyright: ignore[reportUnusedCoroutine]


def test_waits_across_threads_and_backends(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """A Pending of one thread's loop is awaited in another's, of the other backend."""
    producer = start_caller(thread_backend)
    other = "trio" if thread_backend == "asyncio" else "asyncio"
    consumer = start_caller(other)
    release = aiologic.Event()

    async def produce() -> str:
        await release
        return threading.current_thread().name

    produced = producer.call_soon(produce)

    async def consume() -> str:
        return await produced.wait(10)

    consumed = consumer.call_soon(consume)
    release.set()
    assert consumed.wait_sync(10) == producer.thread.name


def test_cancellation_reaches_a_running_call(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """cancel(msg) from another thread interrupts a running call; its cleanup runs first."""
    caller = start_caller(thread_backend)
    started = aiologic.Event()
    cleaned_up = aiologic.Event()

    async def long_call() -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cleaned_up.set()

    pending = caller.call_soon(long_call)
    assert started.wait(10)
    assert pending.cancel("enough")
    with pytest.raises(PendingCancelled, match="enough"):
        pending.wait_sync(10)
    assert cleaned_up.is_set()  # done only once the call has unwound
    assert pending.cancel_message == "enough"


async def test_cancel_wait_returns_once_the_call_has_stopped(anyio_backend: str) -> None:
    """await pending.cancel_wait() cancels and waits until the call has unwound."""
    del anyio_backend
    caller = Caller()
    unwound: list[bool] = []
    started = aiologic.Event()

    async def long_call() -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            unwound.append(True)

    pending = caller.call_soon(long_call)
    with anyio.fail_after(10):
        await started
        await pending.cancel_wait("stop now")
    assert unwound == [True]
    assert pending.cancelled()


def test_set_canceller_metadata_and_callbacks() -> None:
    """A bare Pending: set_canceller says how cancel reaches the work; metadata is yours."""
    pending: Pending[str] = Pending()
    asked: list[str | None] = []
    pending.set_canceller(asked.append)
    pending.metadata["purpose"] = "test"
    finished: list[Pending[str]] = []
    pending.add_done_callback(finished.append)
    pending.add_done_callback(print)
    assert pending.remove_done_callback(print) == 1
    assert pending.cancel("please stop")
    assert asked == ["please stop"]
    assert not pending.done()  # the producer decides when it has stopped
    pending.set_exception(PendingCancelled("stopped"))
    assert finished == [pending]
    assert pending.metadata == {"purpose": "test"}
    assert pending  # always truthy
    with pytest.raises(PendingCancelled, match="stopped"):
        pending.result()
