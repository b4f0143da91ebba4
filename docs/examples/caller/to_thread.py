"""Blocking work in worker threads: the shared pool, or a pool of your own."""

import threading
import time

import anyio

from async_caller import Caller, WorkerPool

# From any thread, even one without an event loop.
print("sum:", Caller.to_thread(sum, range(10)).wait_sync(timeout=5))


def fetch() -> bool:
    time.sleep(0.01)  # stands in for a blocking library call
    return threading.current_thread() is not threading.main_thread()


async def main() -> None:
    # Awaiting it leaves the loop free while the thread works.
    print("fetched in a worker thread:", await Caller.to_thread(fetch))


anyio.run(main)

# A pool of its own: at most two threads, retired after one idle second.
pool = WorkerPool(max_workers=2, idle_timeout=1.0, name="downloads")
pendings = [pool.submit(fetch) for _ in range(6)]
assert all(pending.wait_sync(timeout=5) for pending in pendings)
print("pool:", pool.thread_count)
pool.shutdown()
