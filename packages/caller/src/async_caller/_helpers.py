"""`as_completed` and `wait`: follow many Pendings at once, from any loop of either backend.

The module functions take Pendings; `Caller.as_completed` and `Caller.wait` take any
awaitables and turn the others into Pendings first (`follow_awaitables`, `wait_awaitables`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

import aiologic
import anyio

from ._exceptions import PendingTimeoutError

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable

    from ._pending import Pending

__all__ = [
    "ALL_COMPLETED",
    "FIRST_COMPLETED",
    "FIRST_EXCEPTION",
    "as_completed",
    "follow_awaitables",
    "wait",
    "wait_awaitables",
]

T = TypeVar("T")

FIRST_COMPLETED: Final = "FIRST_COMPLETED"
"""`wait` returns when any Pending is done."""
FIRST_EXCEPTION: Final = "FIRST_EXCEPTION"
"""`wait` returns when any Pending raises (or is cancelled), or when all are done."""
ALL_COMPLETED: Final = "ALL_COMPLETED"
"""`wait` returns when every Pending is done."""

ReturnWhen = Literal["FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED"]


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


async def as_completed(
    pendings: Iterable[Pending[T]],
    *,
    timeout: float | None = None,  # noqa: ASYNC109 - mirrors asyncio.as_completed
) -> AsyncIterator[Pending[T]]:
    """Yield the given Pendings one by one as they finish (each once, done ones first).

    Use from any task of either backend: ``async for pending in as_completed(pendings):``.

    Args:
        pendings: The Pendings to follow; duplicates are followed once.
        timeout: Seconds, counted from the start, after which to give up.

    Yields:
        Each Pending, done, in the order they finished.

    Raises:
        PendingTimeoutError: If ``timeout`` passes before all are done; the rest keep running.
    """
    unique = list(dict.fromkeys(pendings))
    finished: aiologic.SimpleQueue[Pending[T]] = aiologic.SimpleQueue()
    deadline = _deadline(timeout)
    for pending in unique:
        pending.add_done_callback(finished.put)
    try:
        for left in range(len(unique), 0, -1):
            try:
                yield await finished.async_get(timeout=_remaining(deadline))
            except aiologic.QueueEmpty:
                msg = f"{left} of {len(unique)} pendings were not done after {timeout} s"
                raise PendingTimeoutError(msg) from None
    finally:
        for pending in unique:
            pending.remove_done_callback(finished.put)


async def wait(
    pendings: Iterable[Pending[Any]],
    *,
    timeout: float | None = None,  # noqa: ASYNC109 - mirrors asyncio.wait
    return_when: ReturnWhen = ALL_COMPLETED,
) -> tuple[set[Pending[Any]], set[Pending[Any]]]:
    """Wait for the Pendings as ``return_when`` says; from any task of either backend.

    Like `asyncio.wait`, a timeout is not an error: it just returns what is done so far.

    Args:
        pendings: The Pendings to wait for.
        timeout: Seconds to wait at most; None waits as long as needed.
        return_when: ``"ALL_COMPLETED"``, ``"FIRST_COMPLETED"`` or ``"FIRST_EXCEPTION"``
            (which stops at the first Pending that raised or was cancelled).

    Returns:
        ``(done, not_done)``: two sets of Pendings.

    Raises:
        ValueError: If ``return_when`` is not one of the three names.
    """
    _check_return_when(return_when)
    not_done = set(pendings)
    done: set[Pending[Any]] = set()
    finished: aiologic.SimpleQueue[Pending[Any]] = aiologic.SimpleQueue()
    deadline = _deadline(timeout)
    for pending in not_done:
        pending.add_done_callback(finished.put)
    try:
        while not_done:
            try:
                pending = await finished.async_get(timeout=_remaining(deadline))
            except aiologic.QueueEmpty:
                break
            not_done.discard(pending)
            done.add(pending)
            if return_when == FIRST_COMPLETED or (
                return_when == FIRST_EXCEPTION
                and (pending.cancelled() or pending.exception() is not None)
            ):
                break
    finally:
        for pending in not_done:
            pending.remove_done_callback(finished.put)
    # Others may have finished meanwhile; report them as done too.
    newly_done = {pending for pending in not_done if pending.done()}
    return done | newly_done, not_done - newly_done


def _check_return_when(return_when: str) -> None:
    if return_when not in (ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION):
        msg = (
            f"return_when must be 'ALL_COMPLETED', 'FIRST_COMPLETED' or 'FIRST_EXCEPTION', "
            f"not {return_when!r}"
        )
        raise ValueError(msg)


async def wait_awaitables(
    to_pending: Callable[[Awaitable[Any]], Pending[Any]],
    items: Iterable[Awaitable[Any]],
    *,
    timeout: float | None,  # noqa: ASYNC109 - mirrors asyncio.wait
    return_when: ReturnWhen,
    shield: bool,
) -> tuple[set[Pending[Any]], set[Pending[Any]]]:
    """`Caller.wait`: make each item a Pending with ``to_pending``, then `wait`."""
    _check_return_when(return_when)
    pendings = {to_pending(item) for item in items}
    result: tuple[set[Pending[Any]], set[Pending[Any]]] = (set(), pendings)
    with anyio.CancelScope(shield=shield):
        result = await wait(pendings, timeout=timeout, return_when=return_when)
    return result  # noqa: RET504 - a cancel scope may end the block early


async def follow_awaitables(
    to_pending: Callable[[Awaitable[T]], Pending[T]],
    items: Iterable[Awaitable[T]] | AsyncIterable[Awaitable[T]],
    *,
    max_concurrent: int | None,
    cancel_unfinished: bool,
) -> AsyncGenerator[Pending[T]]:
    """`Caller.as_completed`: yield Pendings as they finish, taking items as room allows."""
    if max_concurrent is not None and max_concurrent < 1:
        msg = f"max_concurrent must be at least 1 or None, not {max_concurrent}"
        raise ValueError(msg)
    finished: aiologic.SimpleQueue[Pending[T]] = aiologic.SimpleQueue()
    unfinished: set[Pending[T]] = set()
    seen: set[Pending[T]] = set()
    source_async = items.__aiter__() if isinstance(items, AsyncIterable) else None
    source = iter(items) if not isinstance(items, AsyncIterable) else None
    exhausted = False

    async def next_item() -> Awaitable[T] | None:
        nonlocal exhausted
        try:
            if source_async is not None:
                return await source_async.__anext__()
            assert source is not None
            return next(source)
        except (StopIteration, StopAsyncIteration):
            exhausted = True
            return None

    async def fill() -> None:
        while not exhausted and (max_concurrent is None or len(unfinished) < max_concurrent):
            item = await next_item()
            if item is None:
                return
            pending = to_pending(item)
            if pending in seen:
                continue
            seen.add(pending)
            unfinished.add(pending)
            pending.add_done_callback(finished.put)

    try:
        await fill()
        while unfinished:
            pending = await finished.async_get()
            unfinished.discard(pending)
            yield pending
            await fill()
    finally:
        for pending in unfinished:
            pending.remove_done_callback(finished.put)
            if cancel_unfinished:
                pending.cancel("as_completed() ended before it was done")
