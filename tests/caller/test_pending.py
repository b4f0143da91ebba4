from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import aiologic
import anyio
import anyio.lowlevel
import pytest

from async_caller import (
    Caller,
    DeadlockError,
    InvalidStateError,
    Pending,
    PendingCancelledError,
    PendingTimeoutError,
)

if TYPE_CHECKING:
    from collections.abc import Callable


def test_bare_pending_set_result_from_another_thread() -> None:
    """A bare Pending completed by another thread wakes a blocking waiter."""
    pending: Pending[int] = Pending()
    assert not pending.done()
    threading.Thread(target=pending.set_result, args=(5,)).start()
    assert pending.wait_sync(5) == 5
    assert pending.done()
    assert not pending.cancelled()
    assert pending.result() == 5
    assert pending.exception() is None
    assert "result=5" in repr(pending)


def test_set_exception_and_double_completion() -> None:
    """set_exception delivers the error; completing twice is refused."""
    pending: Pending[int] = Pending()
    pending.set_exception(ValueError("bad"))
    with pytest.raises(ValueError, match="bad"):
        pending.result()
    assert isinstance(pending.exception(), ValueError)
    with pytest.raises(InvalidStateError, match="already done"):
        pending.set_result(1)
    with pytest.raises(InvalidStateError, match="already done"):
        pending.set_exception(ValueError())


def test_result_before_done_is_an_error() -> None:
    """result() and exception() never block: they raise until the Pending is done."""
    pending: Pending[int] = Pending()
    with pytest.raises(InvalidStateError, match="await it"):
        pending.result()
    with pytest.raises(InvalidStateError, match="no exception yet"):
        pending.exception()


def test_wait_sync_timeout_cancels_unless_protected() -> None:
    """wait_sync() with a timeout raises PendingTimeoutError and cancels; protect keeps it."""
    kept: Pending[int] = Pending()
    with pytest.raises(PendingTimeoutError, match="keeps running"):
        kept.wait_sync(0.01, protect=True)
    assert not kept.done()
    pending: Pending[int] = Pending()
    with pytest.raises(PendingTimeoutError, match="was cancelled"):
        pending.wait_sync(0.01)
    assert pending.cancelled()
    assert pending.cancel_message == "timed out after 0.01 s"
    assert isinstance(PendingTimeoutError(), TimeoutError)


def test_cancel_bare_pending() -> None:
    """Cancelling a bare Pending completes it as cancelled, with the message."""
    pending: Pending[int] = Pending()
    assert pending.cancel("no longer needed")
    assert not pending.cancel()  # already done
    assert pending.cancelled()
    assert pending.done()
    assert pending.cancel_message == "no longer needed"
    with pytest.raises(PendingCancelledError, match="no longer needed"):
        pending.result()
    with pytest.raises(PendingCancelledError):
        pending.exception()
    with pytest.raises(PendingCancelledError):
        pending.wait_sync(1)
    done: Pending[int] = Pending()
    done.set_result(1)
    assert not done.cancel()


def test_done_callbacks() -> None:
    """Callbacks run once when done, at once if already done; removal works."""
    pending: Pending[int] = Pending()
    seen: list[object] = []
    pending.add_done_callback(seen.append)
    pending.add_done_callback(seen.append)
    assert pending.remove_done_callback(seen.append) == 2
    assert pending.remove_done_callback(seen.append) == 0
    pending.add_done_callback(seen.append)
    pending.set_result(3)
    assert seen == [pending]
    pending.add_done_callback(seen.append)
    assert seen == [pending, pending]


def test_failing_done_callback_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """An exception in a callback is logged and does not stop the others."""
    pending: Pending[int] = Pending()
    seen: list[object] = []

    def broken(_: Pending[int]) -> None:
        raise RuntimeError("callback failed")

    pending.add_done_callback(broken)
    pending.add_done_callback(seen.append)
    pending.set_result(1)
    assert seen == [pending]
    assert "callback failed" in caplog.text


@pytest.mark.anyio
async def test_await_bare_pending(anyio_backend: str) -> None:
    """A Pending completed by a plain thread can be awaited in a loop."""
    pending: Pending[str] = Pending()
    threading.Thread(target=pending.set_result, args=("hi",)).start()
    with anyio.fail_after(5):
        assert await pending == "hi"


@pytest.mark.anyio
async def test_await_cancelled_pending_raises_pending_cancelled(anyio_backend: str) -> None:
    """Awaiting a cancelled Pending raises PendingCancelledError, not our own cancellation."""
    pending: Pending[str] = Pending()
    threading.Thread(target=pending.cancel, args=("stop",)).start()
    with anyio.fail_after(5), pytest.raises(PendingCancelledError, match="stop"):
        await pending
    assert not isinstance(PendingCancelledError(), anyio.get_cancelled_exc_class())


@pytest.mark.anyio
async def test_await_across_loops_and_backends(anyio_backend: str, thread_backend: str) -> None:
    """A Pending run by a caller in another thread is awaited from this loop."""
    caller = Caller.start_new(backend=thread_backend)
    try:

        async def compute() -> str:
            await anyio.sleep(0.01)
            return threading.current_thread().name

        with anyio.fail_after(5):
            assert await caller.call_soon(compute) == caller.thread.name
    finally:
        caller.stop()


@pytest.mark.anyio
async def test_cancelling_the_awaiter_leaves_the_pending(anyio_backend: str) -> None:
    """Cancelling the task that awaits a Pending does not cancel the Pending."""
    pending: Pending[int] = Pending()
    with anyio.move_on_after(0.01):
        await pending
    assert not pending.done()
    pending.set_result(1)
    assert await pending == 1


def test_cross_thread_cancel_reaches_sleeping_task(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """cancel() from a plain thread cancels a task sleeping in the caller's loop."""
    caller = start_caller(thread_backend)
    started = aiologic.Event()
    cleaned_up = aiologic.Event()

    async def sleeper() -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cleaned_up.set()

    pending = caller.call_soon(sleeper)
    assert started.wait(5)
    assert pending.cancel("from a thread")
    with pytest.raises(PendingCancelledError, match="from a thread"):
        pending.wait_sync(5)
    assert cleaned_up.is_set()  # it really unwound before the Pending completed


@pytest.mark.anyio
async def test_cancel_before_start_never_runs(anyio_backend: str) -> None:
    """A Pending cancelled before its call started never runs the call."""
    ran: list[int] = []
    async with Caller() as caller:
        pending = caller.call_soon(ran.append, 1)
        direct = caller.call_direct(ran.append, 2)
        later = caller.call_later(10, ran.append, 3)
        assert pending.cancel()
        assert direct.cancel()
        with anyio.fail_after(5):
            await anyio.lowlevel.checkpoint()  # let the loop start `later`
            await caller.call_soon(ran.append, 4)
        assert later.cancel()
        with anyio.fail_after(5), pytest.raises(PendingCancelledError):
            await later
    assert ran == [4]


@pytest.mark.anyio
async def test_wait_in_own_loop_thread_is_a_deadlock(anyio_backend: str) -> None:
    """wait() without timeout in the loop that must run the call raises DeadlockError."""
    async with Caller() as caller:
        pending = caller.call_soon(int)
        with pytest.raises(DeadlockError, match="await"):
            pending.wait_sync()
        with anyio.fail_after(5):
            assert await pending == 0
        assert pending.wait_sync() == 0  # done: no deadlock


def test_every_waiting_thread_wakes() -> None:
    """Several threads blocked in wait() all get the result when it arrives."""
    pending: Pending[int] = Pending()
    results: list[int] = []
    entered = threading.Barrier(5)

    def waiter() -> None:
        entered.wait(10)
        results.append(pending.wait_sync(10))

    threads = [threading.Thread(target=waiter) for _ in range(4)]
    for thread in threads:
        thread.start()
    entered.wait(10)
    pending.set_result(7)
    for thread in threads:
        thread.join(10)
    assert results == [7] * 4


def test_a_timed_out_wait_leaves_later_waits_working() -> None:
    """After a wait() timed out, the Pending still completes and wakes the next waiter."""
    pending: Pending[str] = Pending()
    with pytest.raises(PendingTimeoutError):
        pending.wait_sync(0, protect=True)
    with pytest.raises(PendingTimeoutError):
        pending.wait_sync(-1, protect=True)  # a negative timeout means: do not wait
    threading.Thread(target=pending.set_result, args=("done",)).start()
    assert pending.wait_sync(10) == "done"
    assert pending.wait_sync(0) == "done"


def test_wait_wakes_on_cancel_and_exception() -> None:
    """A thread blocked in wait() wakes on cancellation and on an exception too."""
    cancelled: Pending[int] = Pending()
    threading.Thread(target=cancelled.cancel, args=("stop",)).start()
    with pytest.raises(PendingCancelledError, match="stop"):
        cancelled.wait_sync(10)
    failed: Pending[int] = Pending()
    threading.Thread(target=failed.set_exception, args=(KeyError("k"),)).start()
    with pytest.raises(KeyError, match="k"):
        failed.wait_sync(10)
