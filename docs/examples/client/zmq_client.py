"""An async client that starts a kernel from its spec, on asyncio or on trio.

Needs the ``async`` kernel spec (``async-kernel install``); give ``async-trio`` as the argument
to start that kernel, and this script then runs its own side on trio too.
"""

import sys

import anyio

from async_kernel.messaging.zmq import ZMQClient

KERNEL_NAME = sys.argv[1] if len(sys.argv) > 1 else "async"  # or "async-trio"


async def main() -> None:
    async with ZMQClient.subprocess_kernel(name=KERNEL_NAME) as client:
        info = await client.kernel_info()
        print("kernel:", info.content["implementation"])
        reply = await client.execute("total = sum(range(10))", user_expressions={"t": "total"})
        print("user expression:", reply.content["user_expressions"]["t"]["data"]["text/plain"])
        completed = await client.complete("tot")
        print("completions:", completed.content["matches"])
        with anyio.fail_after(10):  # a time limit for one request
            inspected = await client.inspect("total")
        print("inspect found it:", inspected.content["found"])
    print("the kernel has shut down")


anyio.run(main, backend="trio" if KERNEL_NAME.endswith("trio") else "asyncio")
