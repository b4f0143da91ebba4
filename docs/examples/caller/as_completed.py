"""Follow many awaitables at once: caller.as_completed and caller.wait."""

import anyio

from async_caller import FIRST_COMPLETED, Caller


async def after(seconds: float, label: str) -> str:
    await anyio.sleep(seconds)
    return label


async def main() -> None:
    caller = Caller()
    # Coroutines are run by the caller and come back as Pendings, as they finish.
    async for pending in caller.as_completed([after(0.05, "slow"), after(0.01, "fast")]):
        print("done:", pending.result())

    # A generator is read as room allows: never more than two running at once.
    jobs = (after(0.01, f"job {n}") for n in range(6))
    finished = [p.result() async for p in caller.as_completed(jobs, max_concurrent=2)]
    print("jobs:", len(finished))

    # Like asyncio.wait, a timeout is not an error: you get what is done so far.
    slow = caller.call_soon(after, 60, "slow")
    done, not_done = await caller.wait([slow, after(0.01, "fast")], return_when=FIRST_COMPLETED)
    print(f"done: {len(done)}, still running: {len(not_done)}")
    await slow.cancel_wait()
    print("slow cancelled:", slow.cancelled())


anyio.run(main)
