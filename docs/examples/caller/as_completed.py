"""Follow many Pendings at once: as_completed and wait."""

import anyio

from async_caller import Caller, as_completed, wait


async def after(seconds: float, label: str) -> str:
    await anyio.sleep(seconds)
    return label


async def main() -> None:
    worker = Caller.start_new(name="worker")
    slow = worker.call_soon(after, 60, "slow")
    fast = worker.call_soon(after, 0.01, "fast")

    async for pending in as_completed([slow, fast]):  # in the order they finish
        print("first done:", pending.result())
        break

    # Like asyncio.wait, a timeout is not an error: you get what is done so far.
    done, not_done = await wait([slow, fast], timeout=0.05)
    print(f"done: {len(done)}, still running: {len(not_done)}")

    slow.cancel()
    await wait([slow])
    print("slow cancelled:", slow.cancelled())
    worker.stop()


anyio.run(main)
