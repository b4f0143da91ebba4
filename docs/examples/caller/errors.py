"""The errors you meet first, each a subclass of a builtin you would already catch."""

import anyio

from async_caller import Caller, DeadlockError, NoCallerError, PendingTimeoutError

worker = Caller("NewThread", name="worker")
try:
    worker.call_soon(anyio.sleep, 10).wait_sync(timeout=0.01)
except PendingTimeoutError:  # a TimeoutError; the call was cancelled (protect=True keeps it)
    print("PendingTimeoutError:", True)


async def wait_in_own_loop() -> None:
    # Blocking the loop that must run the call could never finish: refused at once.
    Caller().call_soon(anyio.sleep, 0).wait_sync()


try:
    worker.call_soon(wait_in_own_loop).wait_sync(timeout=5)
except DeadlockError:  # a RuntimeError
    print("DeadlockError:", True)

try:
    worker.call_soon(sum, [1]).wait().close()  # a coroutine method: it needs a loop
except TypeError as exc:
    print("TypeError names wait_sync:", "wait_sync" in str(exc))
worker.stop()

try:
    Caller()  # this thread runs no event loop, so it has no Caller
except NoCallerError:  # a RuntimeError
    print("NoCallerError:", True)
