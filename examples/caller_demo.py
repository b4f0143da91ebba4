"""A tour of async_caller: run with ``uv run python examples/caller_demo.py``.

Shows a caller in a new thread, call_soon from a plain thread, awaiting across loops and
backends, cancellation from another thread, to_thread and queue_call ordering.
"""

from __future__ import annotations

import threading

import anyio
import anyio.lowlevel

from async_caller import Caller, PendingCancelledError


async def greet(name: str) -> str:
    await anyio.sleep(0.01)
    return f"hello {name} from {threading.current_thread().name}"


def main() -> None:
    # 1. A caller in a new thread, with its own asyncio loop.
    worker = Caller.start_new(backend="asyncio", name="worker")

    # 2. call_soon from this plain thread; wait() blocks until the result is there.
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
    except PendingCancelledError as exc:
        print("cancelled:", exc)

    # 5. to_thread: blocking work in the shared worker pool.
    print("to_thread:", Caller.to_thread(sum, range(10)).wait_sync(timeout=5))

    # 6. queue_call: calls of one function run one at a time, in submission order.
    order: list[int] = []

    async def record(i: int) -> None:
        await anyio.lowlevel.checkpoint()
        order.append(i)

    for pending in [worker.queue_call(record, i) for i in range(5)]:
        pending.wait_sync(timeout=5)
    print("queue order:", order)

    worker.stop()  # cancels what is left, ends the loop and joins the thread


if __name__ == "__main__":
    main()
