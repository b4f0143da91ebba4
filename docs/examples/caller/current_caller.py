"""This thread's Caller, made on first use in the running loop, and children that stop with it."""

import anyio

from async_caller import Caller


async def where() -> str:
    return f"{Caller().name} on {Caller().backend}"


async def main() -> None:
    caller = Caller()  # this thread's caller: made now, served by a task of this loop
    print("the same one again:", Caller() is caller)
    print("main thread's:", Caller("MainThread") is caller)
    print("found by id:", Caller.get_existing(caller.id) is caller)

    async with caller:  # leaving the block stops the caller
        child = caller.get(name="child", backend="trio")  # a named child, in a new thread
        print("get() finds it again:", caller.get(name="child") is child)
        print("child answered:", await child.call_soon(where))
        print("children:", [c.name for c in caller.children], "parent:", child.parent is caller)
    # Leaving the block stopped the caller, its outstanding calls and its children.
    print("child stopped with main:", child.stopped.done())


anyio.run(main)
