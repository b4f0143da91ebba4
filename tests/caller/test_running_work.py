"""Running work: schedule_call, to_thread on a caller and on the class, call_using_backend,
queue_get and queue_close, current_pending; all return Pendings, for plain and coroutine
functions, with the context copied."""

from __future__ import annotations

import contextvars
import threading
from typing import TYPE_CHECKING, Any

import aiologic
import anyio
import anyio.lowlevel
import pytest
import sniffio

from async_caller import Caller, DeadlockError, Pending, UnknownBackendError

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.anyio

label: contextvars.ContextVar[str] = contextvars.ContextVar("label", default="unset")


async def where() -> tuple[str, str]:
    """The backend and thread a call runs in."""
    await anyio.lowlevel.checkpoint()
    return sniffio.current_async_library(), threading.current_thread().name


def test_schedule_call_copies_the_given_context(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """schedule_call takes args and kwargs as a tuple and a dict, and a context to copy."""
    caller = start_caller(thread_backend)
    context = contextvars.copy_context()
    context.run(label.set, "given")

    def read_and_change(prefix: str, *, suffix: str) -> str:
        value = label.get()
        label.set("changed in the call")
        return f"{prefix}{value}{suffix}"

    pending = caller.schedule_call(read_and_change, ("<",), {"suffix": ">"}, context)
    assert pending.wait_sync(10) == "<given>"
    assert context[label] == "given"  # the call ran in a copy
    assert caller.schedule_call(label.get).wait_sync(10) == "unset"  # default: ours


def test_to_thread_on_a_caller_uses_its_backend(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """caller.to_thread runs in a pooled worker whose loop has the caller's backend."""
    caller = start_caller(thread_backend)
    backend, thread_name = caller.to_thread(where).wait_sync(10)
    assert backend == thread_backend
    assert thread_name.startswith("async-caller-worker")
    assert caller.to_thread(sum, [1, 2, 3]).wait_sync(10) == 6


async def test_to_thread_on_the_class_uses_the_calling_loop(anyio_backend: str) -> None:
    """Caller.to_thread runs on the backend of the loop that calls it."""
    with anyio.fail_after(10):
        backend, _ = await Caller.to_thread(where)
        assert backend == anyio_backend
        assert await Caller.to_thread(int, "5") == 5


@pytest.mark.parametrize("target", ["asyncio", "trio"])
def test_call_using_backend_crosses_backends(
    start_caller: Callable[..., Caller], thread_backend: str, target: str
) -> None:
    """call_using_backend runs in a pooled worker of the named backend, whatever the caller's."""
    caller = start_caller(thread_backend)
    backend, thread_name = caller.call_using_backend(target, where).wait_sync(10)
    assert backend == target
    assert thread_name.startswith("async-caller-worker")
    assert thread_name != caller.thread.name
    with pytest.raises(UnknownBackendError, match="no backend named 'curio'"):
        caller.call_using_backend("curio", where)


async def test_call_using_backend_from_a_loop(anyio_backend: str) -> None:
    """From a task, the other backend's result comes back awaitable, and its errors too."""
    other = "trio" if anyio_backend == "asyncio" else "asyncio"

    async def fail() -> None:
        await anyio.lowlevel.checkpoint()
        raise LookupError(sniffio.current_async_library())

    caller = Caller()
    with anyio.fail_after(10):
        assert (await caller.call_using_backend(other, where))[0] == other
        with pytest.raises(LookupError, match=other):
            await caller.call_using_backend(other, fail)


def test_queue_get_and_queue_close(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """queue_get gives the Pending of a function's queue; queue_close (or its hash) ends it."""
    caller = start_caller(thread_backend)
    seen: list[int] = []

    def record(number: int) -> None:
        seen.append(number)

    assert caller.queue_get(record) is None
    pendings = [caller.queue_call(record, number) for number in range(3)]
    for pending in pendings:
        pending.wait_sync(10)
    assert seen == [0, 1, 2]
    queue = caller.queue_get(record)
    assert isinstance(queue, Pending)
    assert not queue.done()
    caller.queue_close(hash(record))
    assert queue.wait_sync(10) is None
    assert caller.call_soon(caller.queue_get, record).wait_sync(10) is None
    caller.queue_call(record, 3).wait_sync(10)  # a new queue starts on demand
    assert seen == [0, 1, 2, 3]


def test_cancelling_the_queue_pending_cancels_what_is_queued(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """Cancelling queue_get's Pending ends the queue and cancels the calls still in it."""
    caller = start_caller(thread_backend)
    release = aiologic.Event()

    async def hold() -> str:
        await release
        return "released"

    first = caller.queue_call(hold)
    second = caller.queue_call(hold)
    queue = caller.queue_get(hold) or caller.call_soon(caller.queue_get, hold).wait_sync(10)
    assert queue is not None
    queue.cancel("closing")
    assert queue.wait_sync(10, result=False) is None
    assert queue.cancelled()
    assert first.wait_sync(10, result=False) is None
    assert first.cancelled()
    assert second.cancelled()


def test_current_pending_is_the_running_calls(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """Inside a call, Caller.current_pending() is the Pending its submitter got back."""
    caller = start_caller(thread_backend)
    assert Caller.current_pending() is None

    async def mine() -> Pending[Any] | None:
        await anyio.lowlevel.checkpoint()
        return Caller.current_pending()

    for submit in (caller.call_soon, caller.queue_call, caller.to_thread):
        pending = submit(mine)
        assert pending.wait_sync(10) is pending
    assert caller.call_soon(Caller.current_pending).wait_sync(10) is not None  # plain too


def test_a_call_that_awaits_its_own_pending_is_told_it_would_deadlock(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """Awaiting your own Pending can never finish: DeadlockError says so."""
    caller = start_caller(thread_backend)

    async def await_myself() -> None:
        me = Caller.current_pending()
        assert me is not None
        await me

    with pytest.raises(DeadlockError, match="its own"):
        caller.call_soon(await_myself).wait_sync(10)
