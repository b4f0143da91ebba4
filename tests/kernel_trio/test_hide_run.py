"""hide_trio_run sets a thread's trio run state aside for a nested trio.run and puts it back.

It reads trio's private run state, so these tests pin the trio versions it works with.
"""

from __future__ import annotations

import concurrent.futures
from typing import TYPE_CHECKING, TypeVar

import trio
import trio.lowlevel

from async_kernel_trio import BACKEND
from async_kernel_trio._hide_run import TESTED_UP_TO, hide_trio_run

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

T = TypeVar("T")


def run_in_thread(main: Callable[[], Awaitable[T]]) -> T:
    """trio.run(main) in a thread of its own: in the main thread, the nested run would also
    find the outer run's signal wakeup descriptor (the kernel lends it separately)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(trio.run, main).result(timeout=30)


def test_the_backend_offers_the_hook() -> None:
    assert BACKEND.hide_running_loop is hide_trio_run


def test_installed_trio_is_not_newer_than_the_checked_one() -> None:
    """A newer trio may keep its run state elsewhere: check the hook, then move TESTED_UP_TO."""
    installed = tuple(int(part) for part in trio.__version__.split(".")[:2])
    assert installed <= tuple(int(part) for part in TESTED_UP_TO.split(".")), trio.__version__


def test_nested_run_inside_a_run_and_state_is_restored() -> None:
    """Inside a trio run, a hidden block can run trio.run; the outer task is current after."""

    async def inner() -> str:
        await trio.lowlevel.checkpoint()
        return "inner result"

    async def outer() -> tuple[str, bool]:
        task = trio.lowlevel.current_task()
        with hide_trio_run():
            result = trio.run(inner)
        await trio.lowlevel.checkpoint()  # the outer run still works
        return result, trio.lowlevel.current_task() is task

    assert run_in_thread(outer) == ("inner result", True)


def test_without_hiding_trio_refuses() -> None:
    """The state the hook hides is what trio checks (guards against a trio that moved it)."""

    async def inner() -> None:
        await trio.lowlevel.checkpoint()

    async def outer() -> str:
        try:
            trio.run(inner)
        except RuntimeError as error:
            return str(error)
        return "ran"

    assert "inside a run" in run_in_thread(outer)
