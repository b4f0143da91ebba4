"""Waiting on a Pending: await it, wait() with options, or wait_sync() from a plain thread."""

import anyio

from async_caller import Caller, Pending, PendingTimeoutError


async def main() -> None:
    caller = Caller()

    slow = caller.call_soon(anyio.sleep, 60)
    try:
        await slow.wait(timeout=0.01, protect=True)  # protect: a timeout leaves it running
    except PendingTimeoutError:
        print("still running after the timeout:", not slow.done())
    try:
        await slow.wait(timeout=0.01)  # without protect, the timeout cancels it
    except PendingTimeoutError:
        await slow.wait(result=False)  # wait until it has unwound, whatever the outcome
        print("cancelled by the timeout:", slow.cancelled())

    async def whoami() -> bool:
        return Caller.current_pending() is me

    me = caller.call_soon(whoami)
    print("current_pending is the call's own:", await me)

    # A bare Pending, completed by code of your own; metadata is yours to use.
    bare: Pending[str] = Pending()
    bare.metadata["purpose"] = "demo"
    bare.set_canceller(lambda msg: bare.set_result(f"stopped: {msg}"))
    bare.cancel("asked to")
    print(await bare, bare.metadata)


anyio.run(main)

# From a thread without a loop, wait_sync() blocks; wait() would need an event loop.
worker = Caller("NewThread")
print("wait_sync:", worker.call_soon(sum, [1, 2, 3]).wait_sync(timeout=5))
worker.stop()
