"""Without threads (Pyodide), callers fall back to tasks of the current thread's loop."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
import pytest

from async_caller import (
    Caller,
    CallerStoppedError,
    ThreadsUnavailableError,
    UnknownBackendError,
    threads_available,
)
from async_caller.lowlevel import set_threads_available

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.anyio


@pytest.fixture
def no_threads() -> Iterator[None]:
    """Switch threads off for callers, and starting a thread into an error, as in Pyodide."""
    original_start = threading.Thread.start

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    set_threads_available(False)
    threading.Thread.start = refuse
    try:
        yield
    finally:
        threading.Thread.start = original_start
        set_threads_available(None)


def test_threads_are_detected_and_can_be_switched_off() -> None:
    """CPython on Linux has threads; the switch overrides the detection until reset."""
    assert threads_available()
    set_threads_available(False)
    try:
        assert not threads_available()
    finally:
        set_threads_available(None)
    assert threads_available()


@pytest.mark.usefixtures("no_threads")
async def test_start_new_runs_the_child_in_a_task_of_this_loop(anyio_backend: str) -> None:
    """The child serves calls in this thread, is listed as a child and stops with its parent."""
    async with Caller(name="main") as main:
        child = Caller.start_new(backend=anyio_backend, name="child")
        assert main.children == frozenset({child})
        assert child.thread is threading.current_thread()
        assert Caller.get_current() is main

        async def where() -> threading.Thread:
            await anyio.lowlevel.checkpoint()
            return threading.current_thread()

        with anyio.fail_after(10):
            assert await child.call_soon(where) is threading.current_thread()
            assert await child.queue_call(lambda: 7) == 7
    assert child.stopped.done()
    with pytest.raises(CallerStoppedError):
        child.call_soon(where)


@pytest.mark.usefixtures("no_threads")
async def test_calls_submitted_before_the_child_serves_run(anyio_backend: str) -> None:
    """Work submitted right after start_new waits for the child's task, then runs in order."""
    async with Caller(name="main"):
        child = Caller.start_new(backend=anyio_backend, name="child")
        seen: list[int] = []
        pendings = [child.queue_call(seen.append, number) for number in range(5)]
        with anyio.fail_after(10):
            for pending in pendings:
                await pending
        assert seen == [0, 1, 2, 3, 4]


@pytest.mark.usefixtures("no_threads")
async def test_stopping_the_child_cancels_its_calls_and_not_the_parent(anyio_backend: str) -> None:
    """A stopped child cancels what it runs; the parent keeps serving."""
    async with Caller(name="main") as main:
        child = Caller.start_new(backend=anyio_backend, name="child")
        started = anyio.Event()

        async def forever() -> None:
            started.set()
            await anyio.sleep_forever()

        pending = child.call_soon(forever)
        with anyio.fail_after(10):
            await started.wait()
            child.stop()
            await child.wait_stopped()
        assert pending.cancelled()
        assert main.children == frozenset()
        assert await main.call_soon(lambda: 1) == 1


@pytest.mark.usefixtures("no_threads")
async def test_to_thread_runs_in_this_thread(anyio_backend: str) -> None:
    """to_thread runs the function as a task of the current caller."""
    del anyio_backend
    async with Caller(name="main"):
        with anyio.fail_after(10):
            assert await Caller.to_thread(threading.current_thread) is threading.current_thread()


@pytest.mark.usefixtures("no_threads")
def test_without_a_running_caller_the_fallbacks_fail_clearly() -> None:
    """Outside any caller there is nowhere to run the work: a specific error says so."""
    with pytest.raises(ThreadsUnavailableError, match="outside a running caller"):
        Caller.start_new(name="orphan")
    with pytest.raises(ThreadsUnavailableError, match="no event loop to run it"):
        Caller.to_thread(print)


@pytest.mark.usefixtures("no_threads")
async def test_a_child_cannot_run_another_backend(anyio_backend: str) -> None:
    """Without threads a child shares its parent's loop, so a backend mismatch is refused."""
    other = "trio" if anyio_backend == "asyncio" else "asyncio"
    async with Caller(name="main"):
        with pytest.raises(UnknownBackendError, match="shares its parent's"):
            Caller.start_new(backend=other, name="child")
