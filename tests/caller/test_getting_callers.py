"""Getting callers: Caller(modifier), get(), the class methods, lifecycle and protection."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

import aiologic
import anyio
import pytest
import sniffio

from async_caller import (
    Caller,
    CallerExistsError,
    CallerProtectedError,
    CallerStoppedError,
    NoCallerError,
)

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.anyio


async def test_caller_is_made_on_first_use_in_a_running_loop(anyio_backend: str) -> None:
    """Caller() in a loop makes this thread's caller once; the class methods find it."""
    async with Caller() as caller:
        assert Caller() is caller
        assert Caller("CurrentThread") is caller
        assert caller.backend == anyio_backend
        assert caller.thread is threading.current_thread()
        assert caller.backend_options is None
        assert not caller.protected
        assert caller.parent is None
        assert Caller.id_current() == caller.id
        assert Caller.get_existing(caller.id) is caller
        assert Caller.get_existing() is caller
        assert caller in Caller.all_callers()
        assert caller.started.done()
        with anyio.fail_after(10):
            assert await caller.call_soon(sniffio.current_async_library) == anyio_backend
    assert caller.stopped.done()
    assert Caller.get_existing(caller.id) is None
    assert caller not in Caller.all_callers(running_only=False)


def test_each_loop_of_a_thread_gets_its_own_caller(thread_backend: str) -> None:
    """Caller() belongs to the loop running now: a later loop in the same thread gets a new one."""

    async def current() -> Caller:
        return Caller()

    first = anyio.run(current, backend=thread_backend)
    second = anyio.run(current, backend=thread_backend)
    assert first is not second
    assert first.stopped.done()  # its loop ended, and the caller with it
    assert second.stopped.done()


def test_main_thread_caller_from_another_thread(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """Caller('MainThread') reaches the main thread's caller from anywhere, once it exists."""
    worker = start_caller(thread_backend)
    with pytest.raises(NoCallerError, match="main thread has no Caller"):
        worker.call_soon(Caller, "MainThread").wait_sync(10)

    async def main() -> None:
        main_caller = Caller("MainThread")
        assert main_caller is Caller()
        with anyio.fail_after(10):
            assert await worker.call_soon(Caller, "MainThread") is main_caller

    anyio.run(main, backend=thread_backend)


def test_new_thread_caller_with_options(thread_backend: str) -> None:
    """Caller('NewThread', ...) starts a thread with a loop of the backend, with its options."""
    options = {"debug": True} if thread_backend == "asyncio" else {}
    caller = Caller("NewThread", name="optioned", backend=thread_backend, backend_options=options)
    try:
        assert caller.name == "optioned"
        assert caller.backend == thread_backend
        assert caller.backend_options == options
        assert caller.thread.name == "async-caller:optioned"
        assert caller.thread is not threading.current_thread()
        if thread_backend == "asyncio":
            debug = caller.call_soon(lambda: asyncio.get_running_loop().get_debug())
            assert debug.wait_sync(10) is True
    finally:
        caller.stop()
    assert caller.stopped.done()
    assert not caller.thread.is_alive()


async def test_async_with_a_new_thread_caller_stops_it(
    anyio_backend: str, thread_backend: str
) -> None:
    """async with Caller('NewThread') as c: leaving the block stops that caller."""
    del anyio_backend
    with anyio.fail_after(10):
        async with Caller("NewThread", backend=thread_backend) as worker:
            assert await worker.call_soon(sniffio.current_async_library) == thread_backend
    assert worker.stopped.done()
    assert worker.stopping.done()
    with pytest.raises(CallerStoppedError, match="has stopped"):
        worker.call_soon(print)


async def test_get_makes_or_finds_named_children_that_stop_with_the_parent(
    anyio_backend: str, thread_backend: str
) -> None:
    """caller.get(name=...) starts a child once; children stop with their parent."""
    del anyio_backend
    with anyio.fail_after(10):
        async with Caller("NewThread") as parent:
            child = parent.get(name="child", backend=thread_backend)
            assert parent.get(name="child") is child
            assert child.parent is parent
            assert child.backend == thread_backend
            assert parent.children == frozenset({child})
            other = "trio" if thread_backend == "asyncio" else "asyncio"
            with pytest.raises(CallerExistsError, match=f"not on '{other}'"):
                parent.get(name="child", backend=other)
            grandchild = child.get()
            assert grandchild.backend == thread_backend
            assert await grandchild.call_soon(sniffio.current_async_library) == thread_backend
    for caller in (child, grandchild):
        assert caller.stopped.done()
        caller.thread.join(10)  # past its loop already: returns at once
        assert not caller.thread.is_alive()
    with pytest.raises(CallerStoppedError, match="stopping"):
        parent.get(name="late")


def test_started_stopping_and_stopped_are_awaitable(thread_backend: str) -> None:
    """started, stopping and stopped are Pendings: awaitable, and truthy even before done."""
    worker = Caller("NewThread", backend=thread_backend)
    assert worker.started.done()
    assert worker.stopped  # a Pending is always true: ask done() for a bool
    assert not worker.stopped.done()

    async def watch() -> str:
        await worker.started
        await worker.stopping
        await worker.stopped
        return "stopped"

    watcher = Caller("NewThread", backend=thread_backend)
    try:
        seen = watcher.call_soon(watch)
        worker.stop()
        assert seen.wait_sync(10) == "stopped"
    finally:
        watcher.stop()


def test_protected_callers_refuse_to_stop_unless_forced(thread_backend: str) -> None:
    """stop() and leaving async with raise on a protected caller; force=True stops it."""
    guarded = Caller("NewThread", backend=thread_backend, protected=True)
    assert guarded.protected
    assert "protected" in repr(guarded)
    with pytest.raises(CallerProtectedError, match=r"force=True"):
        guarded.stop()

    async def leave() -> None:
        async with guarded:
            pass

    with pytest.raises(CallerProtectedError, match="protected"):
        anyio.run(leave, backend=thread_backend)
    assert guarded.call_soon(lambda: "still running").wait_sync(10) == "still running"
    guarded.stop(force=True)
    assert guarded.stopped.done()


def test_protected_caller_left_with_an_exception_stops_and_lets_it_through(
    thread_backend: str,
) -> None:
    """The error that ended the block is raised, not CallerProtectedError over it."""
    guarded = Caller("NewThread", backend=thread_backend, protected=True)

    async def fail_inside() -> None:
        async with guarded:
            raise OSError("the port is taken")

    with pytest.raises(OSError, match="the port is taken"):
        anyio.run(fail_inside, backend=thread_backend)
    assert guarded.stopped.done()


def test_calls_running_and_queued_are_counted(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """A caller tells how many of its calls run and how many wait."""
    caller = start_caller(thread_backend)
    release = aiologic.Event()
    running = aiologic.Event()

    async def hold() -> None:
        running.set()
        await release

    first = caller.queue_call(hold)
    assert running.wait(10)
    later = [caller.queue_call(hold) for _ in range(2)]
    counted = caller.call_soon(lambda: (caller.calls_running, caller.calls_queued))
    running_now, queued_now = counted.wait_sync(10)
    assert running_now >= 1  # the queue's task, running the first call
    assert queued_now == 2
    release.set()
    for pending in (first, *later):
        pending.wait_sync(10)
    assert caller.call_soon(lambda: caller.calls_queued).wait_sync(10) == 0


def test_a_loop_run_inside_a_call_gets_its_own_caller(
    start_caller: Callable[..., Caller],
) -> None:
    """Caller() is the caller of the loop running now: a loop started inside a call has its own.

    A trio run inside an asyncio call (asyncio inside trio cannot be told apart: sniffio
    reports trio for the whole of a trio run).
    """
    import trio  # noqa: TID251 - the test runs trio's own loop inside an asyncio call

    worker = start_caller("asyncio")
    other = "trio"

    async def inner() -> Caller:
        return Caller()

    def run_a_loop_of_its_own() -> tuple[Caller, Caller, Caller]:
        outer = Caller()
        nested = trio.run(inner)  # blocks the worker's loop while it runs
        return outer, nested, Caller()

    outer, nested, after = worker.call_soon(run_a_loop_of_its_own).wait_sync(10)
    assert outer is worker
    assert nested is not worker
    assert nested.backend == other
    assert nested.thread is worker.thread
    assert nested.stopped.done()  # it ended with its loop
    assert after is worker
