"""Cancel a running call from another thread: the task sees its own backend's cancellation."""

import threading

import anyio

from async_caller import Caller, PendingCancelled

worker = Caller("NewThread", backend="trio", name="worker")
started = threading.Event()


async def sleep_forever() -> None:
    started.set()
    try:
        await anyio.sleep_forever()
    except anyio.get_cancelled_exc_class() as exc:
        print("the task saw its own cancellation:", type(exc).__name__)  # trio.Cancelled
        raise


pending = worker.call_soon(sleep_forever)
started.wait(5)
pending.cancel("not needed any more")
try:
    pending.wait_sync(timeout=5)
except PendingCancelled as exc:
    print("cancelled:", exc)
worker.stop()
