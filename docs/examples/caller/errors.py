"""The errors you meet first, each a subclass of a builtin you would already catch."""

import anyio

from async_caller import Caller, DeadlockError, NoCallerError, PendingTimeoutError

worker = Caller.start_new(name="worker")
try:
    worker.call_soon(anyio.sleep, 10).wait_sync(timeout=0.01)
except PendingTimeoutError:  # a TimeoutError; the call keeps running
    print("PendingTimeoutError:", True)


async def wait_in_own_loop() -> None:
    # Blocking the loop that must run the call could never finish: refused at once.
    Caller.get_current().call_soon(anyio.sleep, 0).wait_sync()


try:
    worker.call_soon(wait_in_own_loop).wait_sync(timeout=5)
except DeadlockError:  # a RuntimeError
    print("DeadlockError:", True)
worker.stop()

try:
    Caller.get_current()  # this thread has no Caller
except NoCallerError:  # a RuntimeError
    print("NoCallerError:", True)
