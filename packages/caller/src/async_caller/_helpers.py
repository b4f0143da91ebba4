"""`as_completed` and `wait`: follow many Pendings at once, from any loop of either backend."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

import aiologic

from ._exceptions import PendingTimeoutError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from ._pending import Pending

__all__ = ["ALL_COMPLETED", "FIRST_COMPLETED", "FIRST_EXCEPTION", "as_completed", "wait"]

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
    if return_when not in (ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION):
        msg = (
            f"return_when must be 'ALL_COMPLETED', 'FIRST_COMPLETED' or 'FIRST_EXCEPTION', "
            f"not {return_when!r}"
        )
        raise ValueError(msg)
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
