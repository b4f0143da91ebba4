"""A Caller in a thread of its own, called from a plain thread and awaited from a trio loop."""

import threading

import anyio

from async_caller import Caller


async def greet(name: str) -> str:
    await anyio.sleep(0.01)
    return f"hello from {name}, answered in {threading.current_thread().name}"


worker = Caller("NewThread", backend="asyncio", name="worker")

# From a plain thread: wait_sync() blocks this thread until the result is there.
print(worker.call_soon(greet, "a plain thread").wait_sync(timeout=5))


async def main() -> None:
    # From a trio loop in this thread: await it; the asyncio worker answers.
    print("awaited from trio:", await worker.call_soon(greet, "trio"))


anyio.run(main, backend="trio")
worker.stop()  # ends its loop and joins its thread
print("stopped:", worker.stopped.done())
