"""A Caller for a loop you already run, with a child Caller that stops with it."""

import anyio

from async_caller import Caller


async def where() -> str:
    return f"child on {Caller.get_current().backend}"


async def main() -> None:
    async with Caller(name="main") as caller:
        print("main is current:", Caller.get_current() is caller)
        child = Caller.start_new(backend="trio", name="child")  # a child of `caller`
        print("child answered:", await child.call_soon(where))
    # Leaving the block stopped the caller, its outstanding calls and its children.
    print("child stopped with main:", child.stopped)


anyio.run(main)
