from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING

import anyio.lowlevel

from async_caller import PendingCancelledError

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

    run_in_threads(submit)
    for thread_index, pendings in results.items():
        assert [p.wait_sync(30) for p in pendings] == [(thread_index, i) for i in range(CALLS)]
    assert len(runs) == THREADS * CALLS
    assert set(runs.values()) == {1}


def test_many_suspending_calls_some_cancelled(
    start_caller: Callable[..., Caller], thread_backend: str
) -> None:
    """4 threads x 2,000 calls, half of them suspending, every 5th cancelled at once.

    Each call ends exactly once: with its own value, having run once, or cancelled, having
    run at most once.
    """
    caller = start_caller(thread_backend)
    calls = 2_000
    starts: Counter[tuple[int, int]] = Counter()
    results: dict[int, list[Pending[tuple[int, int]]]] = {}

    async def work(key: tuple[int, int]) -> tuple[int, int]:
        starts[key] += 1  # runs in the caller's loop thread only
        if key[1] % 2:
            await anyio.lowlevel.checkpoint()
        return key

    def submit(thread_index: int) -> None:
        pendings: list[Pending[tuple[int, int]]] = []
        for i in range(calls):
            pending = caller.call_soon(work, (thread_index, i))
            if i % 5 == 0:
                pending.cancel()
            pendings.append(pending)
        results[thread_index] = pendings

    run_in_threads(submit)
    for thread_index, pendings in results.items():
        for i, pending in enumerate(pendings):
            key = (thread_index, i)
            try:
                assert pending.wait_sync(30) == key
            except PendingCancelledError:
                assert i % 5 == 0
                assert starts[key] <= 1
            else:
                assert starts[key] == 1
    assert set(starts.values()) == {1}


def run_in_threads(submit: Callable[[int], None]) -> None:
    """Run ``submit(index)`` in THREADS threads at once and wait for them all."""
    threads = [threading.Thread(target=submit, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
