"""A tour of async_caller: run with ``uv run python examples/caller_demo.py``.

Shows a caller in a new thread, call_soon from a plain thread, awaiting across loops and
backends, cancellation from another thread, to_thread, call_using_backend, queue_call
ordering, and a pending group in this thread's own caller.
"""

from __future__ import annotations

import threading

import anyio
import anyio.lowlevel
import sniffio

from async_caller import Caller, Pending, PendingCancelled


async def greet(name: str) -> str:
    await anyio.sleep(0.01)
    return f"hello {name} from {threading.current_thread().name}"


def main() -> None:
    # 1. A caller in a new thread, with its own asyncio loop.
    worker = Caller("NewThread", backend="asyncio", name="worker")

    # 2. call_soon from this plain thread; wait_sync() blocks until the result is there.
    print(worker.call_soon(greet, "plain thread").wait_sync(timeout=5))

    # 3. Await a Pending from a trio loop in another thread, run by the asyncio caller.
    async def from_trio() -> str:
        return await worker.call_soon(greet, "trio loop")

    print(anyio.run(from_trio, backend="trio"))

    # 4. Cancel from this thread a task sleeping in the worker's loop.
    started = threading.Event()

    async def sleep_forever() -> None:
        started.set()
        await anyio.sleep_forever()

    pending = worker.call_soon(sleep_forever)
    started.wait(5)
    pending.cancel("not needed any more")
    try:
        pending.wait_sync(timeout=5)
    except PendingCancelled as exc:
        print("cancelled:", exc)

    # 5. to_thread: blocking work in a pooled worker; call_using_backend: the other backend.
    print("to_thread:", Caller.to_thread(sum, range(10)).wait_sync(timeout=5))

    async def backend_here() -> str:
        await anyio.lowlevel.checkpoint()
        return sniffio.current_async_library()

    on_trio = worker.call_using_backend("trio", backend_here).wait_sync(timeout=5)
    print("call_using_backend:", on_trio)

    # 6. queue_call: calls of one function run one at a time, in submission order.
    order: list[int] = []

    async def record(i: int) -> None:
        await anyio.lowlevel.checkpoint()
        order.append(i)

    for pending in [worker.queue_call(record, i) for i in range(5)]:
        pending.wait_sync(timeout=5)
    print("queue order:", order)

    worker.stop()  # cancels what is left, ends the loop and joins the thread

    # 7. This thread's own caller, inside its loop: a pending group waits for every call.
    async def in_a_group() -> list[str]:
        caller = Caller()
        pendings: list[Pending[str]] = []
        async with caller.create_pending_group():
            pendings += [caller.call_soon(greet, name) for name in ("a", "b")]
        return [pending.result() for pending in pendings]

    print("group:", anyio.run(in_a_group))


if __name__ == "__main__":
    main()
