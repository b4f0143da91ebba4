"""queue_call: calls of one function run one at a time, in the order they were queued."""

import anyio
import anyio.lowlevel

from async_caller import Caller

order: list[int] = []


async def record(i: int) -> None:
    await anyio.lowlevel.checkpoint()  # a chance for other tasks to run in between
    order.append(i)


worker = Caller.start_new(name="worker")
pendings = [worker.queue_call(record, i) for i in range(5)]
for pending in pendings:
    pending.wait_sync(timeout=5)
print("order:", order)
worker.stop()
