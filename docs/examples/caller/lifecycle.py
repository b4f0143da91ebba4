"""A caller's lifecycle: async with, started/stopping/stopped, and protected callers."""

import anyio

from async_caller import Caller, CallerProtectedError


async def main() -> None:
    async with Caller("NewThread", name="short-lived") as worker:
        await worker.started  # started, stopping and stopped are awaitable Pendings
        print("running:", not worker.stopping.done())
    await worker.stopped  # already done: leaving the block stopped it
    print("stopped:", worker.stopped.done())

    guarded = Caller("NewThread", name="guarded", protected=True)
    try:
        guarded.stop()
    except CallerProtectedError:
        print("protected: stop() refused")
    guarded.stop(force=True)  # force stops it anyway
    await guarded.stopped
    print("guarded stopped:", guarded.stopped.done())


anyio.run(main)
