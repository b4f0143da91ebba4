from __future__ import annotations

import anyio
import pytest

from async_caller import (
    ALL_COMPLETED,
    FIRST_COMPLETED,
    FIRST_EXCEPTION,
    Pending,
    PendingTimeoutError,
    as_completed,
    wait,
)

pytestmark = pytest.mark.anyio


async def test_as_completed_yields_in_finishing_order(anyio_backend: str) -> None:
    """as_completed yields each Pending once, in the order they finish."""
    pendings: list[Pending[int]] = [Pending() for _ in range(3)]
    pendings[2].set_result(2)
    seen: list[Pending[int]] = []
    with anyio.fail_after(5):
        async for pending in as_completed([*pendings, pendings[0]]):
            seen.append(pending)
            if len(seen) == 1:
                pendings[0].set_result(0)
            elif len(seen) == 2:
                pendings[1].set_result(1)
    assert seen == [pendings[2], pendings[0], pendings[1]]


async def test_as_completed_timeout(anyio_backend: str) -> None:
    """as_completed raises PendingTimeoutError when time runs out."""
    done: Pending[int] = Pending()
    done.set_result(1)
    never: Pending[int] = Pending()
    pendings = as_completed([done, never], timeout=0.01)
    with anyio.fail_after(5):
        assert await anext(pendings) is done
        with pytest.raises(PendingTimeoutError, match="1 of 2"):
            await anext(pendings)


async def test_wait_modes(anyio_backend: str) -> None:
    """wait returns (done, not_done) according to return_when."""
    a: Pending[int] = Pending()
    b: Pending[int] = Pending()
    c: Pending[int] = Pending()
    a.set_result(1)
    with anyio.fail_after(5):
        assert await wait([a, b], return_when=FIRST_COMPLETED) == ({a}, {b})
        assert await wait([a, b], timeout=0.01) == ({a}, {b})
        b.set_exception(ValueError())
        assert await wait([a, b, c], return_when=FIRST_EXCEPTION) == ({a, b}, {c})
        c.cancel()
        assert await wait([a, b, c], return_when=ALL_COMPLETED) == ({a, b, c}, set())
        assert await wait([]) == (set(), set())


async def test_wait_rejects_unknown_mode(anyio_backend: str) -> None:
    """An unknown return_when is a ValueError naming the valid ones."""
    with pytest.raises(ValueError, match="FIRST_COMPLETED"):
        await wait([], return_when="SOMETIMES")  # pyright: ignore[reportArgumentType]
