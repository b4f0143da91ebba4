"""The ways a call can go, on both backends.

On trio a call runs inline in a long-lived host task until it first suspends, and then keeps
that task while a new host takes over; on asyncio every call is a task. These tests pin the
behaviour both must share: calls that finish at once, calls that suspend, cancellation that
reaches exactly one call, and calls that stop their own caller.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from typing import TYPE_CHECKING

import aiologic
import anyio
import anyio.lowlevel
import pytest
import sniffio

from async_caller import Caller, CallerStoppedError, Pending, PendingCancelledError

if TYPE_CHECKING:
    from collections.abc import Callable

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


def test_calls_that_suspend_and_calls_that_do_not(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """Plain, finishing and suspending calls each return their own result, context and caller."""
    caller = start_caller(thread_backend)

    def plain(i: int) -> tuple[int, str]:
        return i, request_id.get()

    async def at_once(i: int) -> tuple[int, str]:
        return i, request_id.get()

    async def suspending(i: int) -> tuple[int, str, bool, str]:
        request_id.set(f"set-in-{i}")  # must survive the suspension, in this call only
        await anyio.lowlevel.checkpoint()
        return i, request_id.get(), Caller.get_current() is caller, sniffio.current_async_library()

    async def failing_later(i: int) -> None:
        await anyio.lowlevel.checkpoint()
        raise ValueError(f"failed-{i}")

    expected: list[object] = []
    pendings: list[Pending[object]] = []
    for i in range(300):
        token = request_id.set(f"req-{i}")
        try:
            kind = i % 4
            if kind == 0:
                pendings.append(caller.call_soon(plain, i))
                expected.append((i, f"req-{i}"))
            elif kind == 1:
                pendings.append(caller.call_soon(at_once, i))
                expected.append((i, f"req-{i}"))
            elif kind == 2:
                pendings.append(caller.call_soon(suspending, i))
                expected.append((i, f"set-in-{i}", True, thread_backend))
            else:
                pendings.append(caller.call_soon(failing_later, i))
                expected.append(f"failed-{i}")
        finally:
            request_id.reset(token)
    for pending, want in zip(pendings, expected, strict=True):
        if isinstance(want, str):
            with pytest.raises(ValueError, match=want):
                pending.wait_sync(10)
        else:
            assert pending.wait_sync(10) == want
    assert request_id.get() == "none"


def test_a_suspended_call_does_not_hold_up_later_calls(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """A call waiting on something that only a later call provides still gets it."""
    caller = start_caller(thread_backend)
    event = aiologic.Event()

    async def waiter() -> str:
        await event
        return "woken"

    first = caller.call_soon(waiter)
    assert caller.call_soon(event.set).wait_sync(10) is None
    assert first.wait_sync(10) == "woken"


def test_calls_submitted_from_inside_a_call(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """A call can submit to its own caller and await the result."""
    caller = start_caller(thread_backend)

    async def double(x: int) -> int:
        await anyio.lowlevel.checkpoint()
        return 2 * x

    async def outer() -> list[int]:
        own = Caller.get_current()
        return [await own.call_soon(double, i) for i in range(5)] + [await own.call_direct(abs, -1)]

    assert caller.call_soon(outer).wait_sync(10) == [0, 2, 4, 6, 8, 1]


def test_a_late_cancel_does_not_reach_the_next_call(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """A cancel that arrives after its call finished cancels nothing, not the next call."""
    caller = start_caller(thread_backend)
    running = threading.Event()
    cancel_sent = threading.Event()

    def blocks_until_cancelled() -> str:
        running.set()
        assert cancel_sent.wait(10)  # the loop is held here until the cancel is on its way
        return "finished first"

    async def next_call() -> str:
        await anyio.lowlevel.checkpoint()
        await anyio.lowlevel.checkpoint()
        return "not cancelled"

    first = caller.call_soon(blocks_until_cancelled)
    assert running.wait(10)
    assert first.cancel("too late")
    cancel_sent.set()
    second = caller.call_soon(next_call)
    assert first.wait_sync(10) == "finished first"
    assert second.wait_sync(10) == "not cancelled"


def test_a_call_that_cancels_itself_and_returns_spares_the_next(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """Cancelling its own Pending and returning before any await keeps the result; the next
    call, run right after it, is not cancelled."""
    caller = start_caller(thread_backend)
    own: list[Pending[str]] = []
    submitted = threading.Event()

    def cancel_self() -> str:
        assert submitted.wait(10)
        assert own[0].cancel("by itself")
        return "returned"

    async def next_call() -> str:
        await anyio.lowlevel.checkpoint()
        return "not cancelled"

    own.append(caller.call_soon(cancel_self))
    second = caller.call_soon(next_call)
    submitted.set()
    assert own[0].wait_sync(10) == "returned"
    assert second.wait_sync(10) == "not cancelled"


def test_a_call_that_cancels_itself_is_cancelled_at_its_next_await(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """A call that cancels its own Pending ends cancelled at its next await."""
    caller = start_caller(thread_backend)
    own: list[Pending[str]] = []
    submitted = threading.Event()
    reached: list[str] = []

    async def cancel_self() -> str:
        assert submitted.wait(10)
        own[0].cancel("by itself")
        reached.append("before await")
        await anyio.lowlevel.checkpoint()
        reached.append("after await")
        return "not reached"

    own.append(caller.call_soon(cancel_self))
    submitted.set()
    with pytest.raises(PendingCancelledError, match="by itself"):
        own[0].wait_sync(10)
    assert reached == ["before await"]
    assert caller.call_soon(sorted, [2, 1]).wait_sync(10) == [1, 2]


def test_cancelling_one_suspended_call_spares_the_others(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """Of several suspended calls, cancel() stops only its own."""
    caller = start_caller(thread_backend)
    release = aiologic.Event()
    started = [aiologic.Event() for _ in range(3)]

    async def wait_for_release(i: int) -> int:
        started[i].set()
        await release
        return i

    pendings = [caller.call_soon(wait_for_release, i) for i in range(3)]
    for event in started:
        assert event.wait(10)  # all three are suspended (or about to be)
    assert pendings[1].cancel("only me")
    with pytest.raises(PendingCancelledError, match="only me"):
        pendings[1].wait_sync(10)
    release.set()
    assert pendings[0].wait_sync(10) == 0
    assert pendings[2].wait_sync(10) == 2


def test_a_call_that_stops_its_own_caller(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """stop() from inside a call cancels that call at its next await and ends the thread."""
    caller = start_caller(thread_backend)

    async def stop_own_caller() -> str:
        Caller.get_current().stop()
        await anyio.sleep_forever()
        return "not reached"

    pending = caller.call_soon(stop_own_caller)
    with pytest.raises(PendingCancelledError):
        pending.wait_sync(10)
    caller.thread.join(10)
    assert not caller.thread.is_alive()
    assert caller.stopped.done()


@pytest.mark.anyio
async def test_calls_from_the_loop_thread_itself(anyio_backend: str) -> None:
    """Calls submitted by a task of the caller's own loop finish, suspending or not."""

    async def later(x: int) -> int:
        await anyio.lowlevel.checkpoint()
        return x

    async with Caller() as caller:
        with anyio.fail_after(10):
            pendings = [
                caller.call_soon(later, i) if i % 2 else caller.call_soon(int, i)
                for i in range(100)
            ]
            assert [await pending for pending in pendings] == list(range(100))
            assert caller.backend == anyio_backend


def test_calls_submitted_while_the_caller_stops_all_end(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """Threads submitting while the caller stops: each Pending ends, with a result or cancelled."""
    caller = start_caller(thread_backend)
    submitted: list[Pending[int]] = []
    lock = threading.Lock()
    many_in = threading.Barrier(3)

    async def maybe_suspend(i: int) -> int:
        if i % 2:
            await anyio.lowlevel.checkpoint()
        return i

    def submit() -> None:
        i = 0
        try:
            while True:
                pending = caller.call_soon(maybe_suspend, i)
                with lock:
                    submitted.append(pending)
                i += 1
                if i == 500:
                    many_in.wait(10)
        except CallerStoppedError:
            return

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    many_in.wait(10)
    caller.stop()
    for thread in threads:
        thread.join(10)
    for pending in submitted:
        with contextlib.suppress(PendingCancelledError):
            assert isinstance(pending.wait_sync(10), int)
        assert pending.done()
