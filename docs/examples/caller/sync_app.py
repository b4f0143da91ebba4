"""A synchronous program that keeps one event loop in the background for its async parts."""

import anyio

from async_caller import Caller


class Service:
    """Async code with a synchronous face: callers never see the event loop."""

    def __init__(self) -> None:
        self._loop = Caller("NewThread", backend="asyncio", name="service")
        self._lock = anyio.Lock()  # made here, used only inside the service's loop

    async def _add(self, a: int, b: int) -> int:
        async with self._lock:
            await anyio.sleep(0.01)  # stands in for network I/O
            return a + b

    def add(self, a: int, b: int) -> int:
        return self._loop.call_soon(self._add, a, b).wait_sync(timeout=10)

    def close(self) -> None:
        self._loop.stop()

    @property
    def closed(self) -> bool:
        return self._loop.stopped.done()


service = Service()
print("totals:", [service.add(n, n + 1) for n in (1, 3, 5)])
service.close()
print("background loop stopped:", service.closed)
