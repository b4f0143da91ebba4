"""The own-loop helper acts only on runners called in a cell, and patches nothing.

The wire-level behaviour (every runner, shell, backend, interrupt) is in
tests/protocol/test_own_loops.py.
"""

from __future__ import annotations

import ast
import asyncio
from typing import Any, cast

import anyio
import pytest

from async_kernel.runtime._interrupts import CellState, current_cell
from async_kernel.runtime._own_loops import HELPER_NAME, own_loop
from async_kernel.shell._own_loop_calls import RUNNER_WORD, OwnLoopCalls


def rewritten(source: str) -> str:
    return ast.unparse(OwnLoopCalls().visit(ast.parse(source)))


def test_call_sites_named_like_runners_go_through_the_helper() -> None:
    assert rewritten("asyncio.run(main())") == f"{HELPER_NAME}(asyncio.run)(main())"
    assert rewritten("run(main())") == f"{HELPER_NAME}(run)(main())"
    assert rewritten("def f(loop):\n    return loop.run_until_complete(g(x.run(1)))") == (
        f"def f(loop):\n    return {HELPER_NAME}(loop.run_until_complete)"
        f"(g({HELPER_NAME}(x.run)(1)))"
    )
    assert rewritten("print(len(x))") == "print(len(x))"


def test_cells_that_name_no_runner_are_not_walked() -> None:
    assert not RUNNER_WORD.search("for i in range(3):\n    print(i, running, rerun_all)")
    assert RUNNER_WORD.search("subprocess.run(['ls'])")
    assert RUNNER_WORD.search("with sync_playwright() as p: pass")


def in_a_cell() -> Any:
    return current_cell.set(CellState(cast("Any", None), 1))


def test_outside_a_cell_every_callee_is_returned_as_it_is() -> None:
    assert own_loop(asyncio.run) is asyncio.run
    assert own_loop(anyio.run) is anyio.run
    assert own_loop(print) is print


def test_in_a_cell_without_a_running_loop_runners_are_left_alone() -> None:
    token = in_a_cell()
    try:
        assert own_loop(asyncio.run) is asyncio.run
    finally:
        current_cell.reset(token)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_in_a_cell_on_a_running_loop_a_runner_runs_and_the_loop_comes_back(
    anyio_backend: str,
) -> None:
    del anyio_backend
    outer = asyncio.get_running_loop()
    coroutine = asyncio.sleep(0, "plain")
    with pytest.raises(RuntimeError, match="cannot be called from a running event loop"):
        own_loop(asyncio.run)(coroutine)  # outside a cell: asyncio's own error
    coroutine.close()
    token = in_a_cell()
    try:
        assert own_loop(print) is print
        assert own_loop(asyncio.run)(asyncio.sleep(0, "ran")) == "ran"
        assert asyncio.get_running_loop() is outer
        assert own_loop(anyio.run)(anyio.sleep, 0) is None
        assert asyncio.get_running_loop() is outer
    finally:
        current_cell.reset(token)
