from __future__ import annotations

import threading

import aiologic
import anyio
import anyio.lowlevel
import pytest
import sniffio

from async_caller import Caller, CallerStoppedError, PendingCancelledError, WorkerPool


def test_to_thread_runs_in_a_worker_thread() -> None:
    """to_thread runs a plain function in a pool thread that is not a daemon."""
    thread = Caller.to_thread(threading.current_thread).wait(5)
    assert thread is not threading.current_thread()
    assert thread.daemon is False
    assert thread in WorkerPool.default().threads


def test_to_thread_async_function_gets_its_own_caller() -> None:
    """A coroutine function runs in an event loop with a Caller in the worker thread."""

    async def where() -> tuple[str, str]:
        await anyio.lowlevel.checkpoint()
        return sniffio.current_async_library(), Caller.get_current().backend

    assert Caller.to_thread(where).wait(5) == ("asyncio", "asyncio")


@pytest.mark.anyio
async def test_to_thread_from_a_loop_uses_its_backend(anyio_backend: str) -> None:
    """Submitted from a loop, an async function runs on that loop's backend; awaitable."""

    async def backend() -> str:
        await anyio.lowlevel.checkpoint()
        return sniffio.current_async_library()

    with anyio.fail_after(5):
        assert await Caller.to_thread(backend) == anyio_backend
        assert await Caller.to_thread(sum, [1, 2]) == 3


def test_to_thread_exception() -> None:
    """An exception in the worker comes back through the Pending."""
    with pytest.raises(ZeroDivisionError):
        Caller.to_thread(divmod, 1, 0).wait(5)


def test_cancel_async_to_thread_call() -> None:
    """Cancelling an async to_thread call cancels it in its worker loop."""
    started = aiologic.Event()

    async def forever() -> None:
        started.set()
        await anyio.sleep_forever()

    pending = Caller.to_thread(forever)
    assert started.wait(5)
    assert pending.cancel()
    with pytest.raises(PendingCancelledError):
        pending.wait(5)


def test_pool_reuses_idle_threads_and_retires_them() -> None:
    """A finished worker is reused; after the idle timeout it retires."""
    pool = WorkerPool(max_workers=2, idle_timeout=0.05, name="test-pool")
    try:
        first = pool.submit(threading.current_thread).wait(5)
        second = pool.submit(threading.current_thread).wait(5)
        assert first is second  # reused while idle
        first.join(5)  # retires after the idle timeout
        assert not first.is_alive()
        assert pool.thread_count == 0
        assert pool.submit(int, "3").wait(5) == 3  # a new thread starts on demand
    finally:
        pool.shutdown()
    assert pool.thread_count == 0


def test_pool_is_bounded_and_queues_extra_work() -> None:
    """No more than max_workers threads run; extra work waits its turn."""
    pool = WorkerPool(max_workers=2, idle_timeout=5, name="bounded-pool")
    release = threading.Event()
    try:
        blockers = [pool.submit(release.wait, 5) for _ in range(2)]
        extra = pool.submit(threading.current_thread)
        assert pool.thread_count == 2
        assert not extra.done()
        release.set()
        assert all(p.wait(5) for p in blockers)
        assert extra.wait(5) in pool.threads
    finally:
        pool.shutdown()


def test_shutdown_pool_refuses_work() -> None:
    """A pool that was shut down raises on submit."""
    pool = WorkerPool(max_workers=1)
    pool.shutdown()
    with pytest.raises(CallerStoppedError, match="shut down"):
        pool.submit(int)
    with pytest.raises(ValueError, match="at least 1"):
        WorkerPool(max_workers=0)
