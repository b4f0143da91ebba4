from __future__ import annotations

import contextvars
import threading
from typing import TYPE_CHECKING, Any, TypeVar

import aiologic
import anyio
import anyio.lowlevel
import pytest
import sniffio

from async_caller import Caller, CallerStoppedError, Pending, PendingCancelledError
from async_caller._caller import _CallerWorkers, _worker_pool
from async_caller._worker_pool import WorkerPool

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")


def test_to_thread_runs_in_a_worker_thread() -> None:
    """to_thread runs a plain function in a pool thread that is not a daemon."""
    thread = Caller.to_thread(threading.current_thread).wait_sync(5)
    assert thread is not threading.current_thread()
    assert thread.daemon is False
    assert thread in _worker_pool().threads


def test_to_thread_async_function_gets_its_own_caller() -> None:
    """A coroutine function runs in an event loop with a Caller in the worker thread."""

    async def where() -> tuple[str, str]:
        await anyio.lowlevel.checkpoint()
        return sniffio.current_async_library(), Caller.get_current().backend

    assert Caller.to_thread(where).wait_sync(5) == ("asyncio", "asyncio")


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
        Caller.to_thread(divmod, 1, 0).wait_sync(5)


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
        pending.wait_sync(5)


def make_pool(**options: Any) -> WorkerPool[Caller]:
    return WorkerPool(_CallerWorkers(), **options)


def run_in(pool: WorkerPool[Caller], func: Callable[..., T], *args: Any) -> Pending[T]:
    return pool.submit("asyncio", func, args, {}, contextvars.copy_context())


def test_pool_reuses_idle_workers_and_retires_them() -> None:
    """A finished worker is reused; after the idle timeout it retires."""
    pool = make_pool(max_workers=2, idle_timeout=0.05, name="test-pool")
    try:
        first = run_in(pool, threading.current_thread).wait_sync(5)
        second = run_in(pool, threading.current_thread).wait_sync(5)
        assert first is second  # reused while idle
        assert first is not None
        first.join(5)  # retires after the idle timeout
        assert not first.is_alive()
        assert pool.thread_count == 0
        assert run_in(pool, int, "3").wait_sync(5) == 3  # a new worker starts on demand
    finally:
        pool.shutdown()


def test_pool_is_bounded_and_queues_extra_work() -> None:
    """No more than max_workers workers run; extra work waits its turn."""
    pool = make_pool(max_workers=2, idle_timeout=5, name="bounded-pool")
    release = threading.Event()
    try:
        blockers = [run_in(pool, release.wait, 5) for _ in range(2)]
        extra = run_in(pool, threading.current_thread)
        assert pool.thread_count == 2
        assert not extra.done()
        release.set()
        assert all(p.wait_sync(5) for p in blockers)
        assert extra.wait_sync(5) in pool.threads
    finally:
        pool.shutdown()


def test_shutdown_pool_refuses_work() -> None:
    """A pool that was shut down raises on submit."""
    pool = make_pool(max_workers=1)
    pool.shutdown()
    with pytest.raises(CallerStoppedError, match="shut down"):
        run_in(pool, int)
    with pytest.raises(ValueError, match="at least 1"):
        make_pool(max_workers=0)
