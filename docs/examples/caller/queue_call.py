"""queue_call: calls of one function run one at a time, in the order they were queued."""

import anyio
import anyio.lowlevel

from async_caller import Caller

order: list[int] = []


async def record(i: int) -> None:
    await anyio.lowlevel.checkpoint()  # a chance for other tasks to run in between
    order.append(i)


worker = Caller("NewThread", name="worker")
pendings = [worker.queue_call(record, i) for i in range(5)]
for pending in pendings:
    pending.wait_sync(timeout=5)
print("order:", order)

queue = worker.queue_get(record)  # the Pending of the task that serves record's queue
print("queue running:", queue is not None and not queue.done())
worker.queue_close(record)  # ends it once it is empty (a hash works too)
if queue is not None:
    queue.wait_sync(timeout=5)
print("queue closed:", worker.queue_get(record) is None)
worker.stop()
