"""A pending group waits for every call started in its block; one failure cancels the rest."""

import anyio

from async_caller import Caller, Pending


async def job(seconds: float, fail: bool = False) -> float:
    await anyio.sleep(seconds)
    if fail:
        raise ValueError("job failed")
    return seconds


async def main() -> None:
    caller = Caller()
    jobs: list[Pending[float]] = []
    async with caller.create_pending_group():
        jobs += [caller.call_soon(job, n / 100) for n in range(3)]
        caller.to_thread(sum, [1, 2])  # worker threads join the group too
    print("all done on exit:", all(p.done() for p in jobs))

    slow = caller.call_soon(job, 60)  # started outside: joins no group
    try:
        async with caller.create_pending_group() as group:
            group.add(slow)  # a Pending can also join by hand
            caller.call_soon(job, 0.01, True)
    except ValueError as exc:
        print("the group raised:", exc)
    print("the rest was cancelled:", slow.cancelled())

    try:
        async with caller.create_pending_group(timeout=0.05):
            caller.call_soon(job, 60)
    except TimeoutError:
        print("timed out: the rest was cancelled")


anyio.run(main)
