from __future__ import annotations

import contextlib
import contextvars
import threading
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
import pytest
import sniffio

from async_caller import (
    Caller,
    CallerExistsError,
    CallerStoppedError,
    NoCallerError,
    Pending,
    PendingCancelledError,
    UnknownBackendError,
)

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.anyio

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


async def test_async_with_binds_to_the_running_loop(anyio_backend: str) -> None:
    """Entering a Caller binds it to this thread and loop; leaving it stops it."""
    async with Caller(name="main") as caller:
        assert caller.name == "main"
        assert caller.backend == anyio_backend
        assert caller.thread is threading.current_thread()
        assert Caller.get_current() is caller
        assert Caller.get_current(threading.current_thread()) is caller
        assert not caller.stopped.done()
    assert caller.stopped.done()
    with pytest.raises(NoCallerError, match="has no Caller"):
        Caller.get_current()


async def test_one_caller_per_thread() -> None:
    """Caller() gives this thread's one caller; asking it for another name is refused."""
    async with Caller(name="only") as caller:
        assert Caller() is caller
        assert Caller("CurrentThread") is caller
        with pytest.raises(CallerExistsError, match="not one named 'other'"):
            Caller(name="other")


def test_get_current_without_caller_raises() -> None:
    """A plain thread has no caller."""
    with pytest.raises(NoCallerError, match=r"Caller\('NewThread'\)"):
        Caller.get_current()


def test_caller_outside_any_loop_raises() -> None:
    """Caller() in a thread without a running loop says how to get one."""
    with pytest.raises(NoCallerError, match="runs no asyncio or trio event loop"):
        Caller()
    with pytest.raises(ValueError, match="no caller modifier"):
        Caller("Elsewhere")  # pyright: ignore[reportArgumentType]


async def test_call_soon_sync_and_async_in_own_loop(anyio_backend: str) -> None:
    """call_soon runs plain and coroutine functions as tasks of the caller's loop."""

    async def double(x: int) -> int:
        await anyio.lowlevel.checkpoint()
        return 2 * x

    async with Caller() as caller:
        with anyio.fail_after(5):
            assert await caller.call_soon(double, 21) == 42
            assert await caller.call_soon(sorted, [3, 1, 2]) == [1, 2, 3]
            assert await caller.call_soon(sniffio.current_async_library) == anyio_backend
            assert await caller.call_direct(int, "7") == 7
            assert await caller.call_later(0.01, double, 1) == 2


async def test_call_soon_with_keyword_arguments() -> None:
    """Keyword arguments reach the function."""

    def join(*parts: str, sep: str) -> str:
        return sep.join(parts)

    async with Caller() as caller:
        with anyio.fail_after(5):
            assert await caller.call_soon(join, "a", "b", sep="-") == "a-b"


def test_start_new_and_call_from_plain_thread(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """A caller in a new thread runs calls submitted from a plain thread."""
    caller = start_caller(thread_backend, "worker")
    assert caller.backend == thread_backend
    assert caller.name == "worker"
    assert caller.thread is not threading.current_thread()
    assert caller.thread.daemon is False
    assert caller.call_soon(threading.current_thread).wait_sync(5) is caller.thread
    assert caller.call_soon(Caller.get_current).wait_sync(5) is caller
    assert caller.call_soon(sniffio.current_async_library).wait_sync(5) == thread_backend
    assert caller.call_direct(threading.get_ident).wait_sync(5) == caller.thread.ident


def test_stop_joins_thread_and_refuses_new_work(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """stop() from a plain thread ends the caller's thread; later submissions fail at once."""
    caller = start_caller(thread_backend)
    caller.stop()
    caller.stop()  # idempotent
    assert caller.stopped.done()
    assert not caller.thread.is_alive()
    with pytest.raises(CallerStoppedError, match="has stopped"):
        caller.call_soon(print)


def test_stop_cancels_outstanding_calls(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """Calls still running when the caller stops end up cancelled."""
    caller = start_caller(thread_backend)
    started = threading.Event()

    async def forever() -> None:
        started.set()
        await anyio.sleep_forever()

    pending = caller.call_soon(forever)
    assert started.wait(5)
    caller.stop()
    assert pending.cancelled()
    with pytest.raises(PendingCancelledError):
        pending.wait_sync(5)


def test_unknown_backend() -> None:
    """An unknown backend name lists the valid ones."""
    with pytest.raises(UnknownBackendError, match="'asyncio', 'trio'"):
        Caller.start_new(backend="curio")


def test_trio_missing_suggests_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Asking for trio without trio installed says which extra to install."""
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UnknownBackendError, match=r"pip install async-caller\[trio\]"):
        Caller.start_new(backend="trio")


async def test_children_stop_with_parent(anyio_backend: str, thread_backend: str) -> None:
    """A caller started from a caller's thread is its named child and stops with it."""
    async with Caller(name="parent") as parent:
        child = Caller.start_new(backend=thread_backend, name="child")
        assert parent.children == frozenset({child})
        assert child.parent is parent
        with pytest.raises(ValueError, match="already has a child"):
            Caller.start_new(backend=thread_backend, name="child")
    assert child.stopped.done()
    child.thread.join(10)  # past its loop already: returns at once
    assert not child.thread.is_alive()
    assert parent.children == frozenset()


def test_contextvars_are_copied(start_caller: Callable[..., Caller], thread_backend: str) -> None:
    """The submitter's context reaches the call; changes inside do not leak back."""
    caller = start_caller(thread_backend)

    def read_and_set() -> str:
        value = request_id.get()
        request_id.set("changed")
        return value

    token = request_id.set("req-1")
    try:
        assert caller.call_soon(read_and_set).wait_sync(5) == "req-1"
        assert caller.call_direct(read_and_set).wait_sync(5) == "req-1"
        assert caller.queue_call(read_and_set).wait_sync(5) == "req-1"
        assert Caller.to_thread(read_and_set).wait_sync(5) == "req-1"
        assert request_id.get() == "req-1"
    finally:
        request_id.reset(token)


def test_exception_is_delivered(start_caller: Callable[..., Caller], thread_backend: str) -> None:
    """An exception raised by the call comes out of wait() and exception()."""
    caller = start_caller(thread_backend)

    async def fail() -> None:
        raise KeyError("boom")

    pending = caller.call_soon(fail)
    with pytest.raises(KeyError, match="boom"):
        pending.wait_sync(5)
    assert isinstance(pending.exception(), KeyError)
    with pytest.raises(ZeroDivisionError):
        caller.call_direct(divmod, 1, 0).wait_sync(5)


def test_call_direct_rejects_coroutine_functions(
    start_caller: Callable[..., Caller],
) -> None:
    """call_direct cannot await: coroutine functions go to call_soon."""
    caller = start_caller()

    async def nap() -> None:
        await anyio.lowlevel.checkpoint()

    with pytest.raises(TypeError, match="call_soon"):
        caller.call_direct(nap)


def test_bare_pending_type() -> None:
    """call_soon returns a Pending."""
    assert isinstance(Pending(), Pending)


@pytest.mark.parametrize("submit", ["call_soon", "queue_call"])
async def test_exit_ends_calls_that_swallowed_their_cancellation(submit: str) -> None:
    """A call whose code catches the cancellation and waits again still ends at exit.

    A notebook cell may catch ``BaseException``: the Caller must not wait on it forever.
    """
    started = anyio.Event()

    async def stubborn() -> None:
        started.set()
        with contextlib.suppress(BaseException):  # what the test is about
            await anyio.sleep_forever()
        await anyio.sleep_forever()

    with anyio.fail_after(10):
        async with Caller() as caller:
            pending = getattr(caller, submit)(stubborn)
            await started.wait()
    assert pending.cancelled()
