"""Blocking work in pooled worker threads, and code for the other backend."""

import threading
import time

import anyio
import anyio.lowlevel
import sniffio

from async_caller import Caller

# From any thread, even one without an event loop (asyncio workers then).
print("sum:", Caller.to_thread(sum, range(10)).wait_sync(timeout=5))


def fetch() -> bool:
    time.sleep(0.01)  # stands in for a blocking library call
    return threading.current_thread() is not threading.main_thread()


async def backend_here() -> str:
    await anyio.lowlevel.checkpoint()
    return sniffio.current_async_library()


async def main() -> None:
    caller = Caller()
    # Awaiting it leaves the loop free while the worker thread works.
    print("fetched in a worker thread:", await caller.to_thread(fetch))
    # A coroutine function gets a worker whose loop has the caller's backend.
    print("to_thread runs on:", await caller.to_thread(backend_here))
    # call_using_backend picks the backend: trio code from this asyncio program.
    print("call_using_backend runs on:", await caller.call_using_backend("trio", backend_here))


anyio.run(main)
