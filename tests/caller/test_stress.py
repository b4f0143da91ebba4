from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from async_caller import Caller, Pending

THREADS = 4
CALLS = 10_000


def test_many_threads_many_calls(start_caller: Callable[..., Caller], thread_backend: str) -> None:
    """4 threads x 10,000 calls: every call runs exactly once and returns its own value."""
    caller = start_caller(thread_backend)
    runs: Counter[tuple[int, int]] = Counter()
    results: dict[int, list[Pending[tuple[int, int]]]] = {}

    def record(key: tuple[int, int]) -> tuple[int, int]:
        runs[key] += 1  # runs in the caller's loop thread only
        return key

    async def record_async(key: tuple[int, int]) -> tuple[int, int]:
        return record(key)

    def submit(thread_index: int) -> None:
        pendings: list[Pending[tuple[int, int]]] = []
        for i in range(CALLS):
            key = (thread_index, i)
            if i % 3 == 0:
                pendings.append(caller.call_soon(record_async, key))
            elif i % 3 == 1:
                pendings.append(caller.call_direct(record, key))
            else:
                pendings.append(caller.queue_call(record, key))
        results[thread_index] = pendings

    threads = [threading.Thread(target=submit, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for thread_index, pendings in results.items():
        assert [p.wait(30) for p in pendings] == [(thread_index, i) for i in range(CALLS)]
    assert len(runs) == THREADS * CALLS
    assert set(runs.values()) == {1}
