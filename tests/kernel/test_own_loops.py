"""The runner wrappers change nothing outside a cell, and hide the running loop inside one.

They patch process-wide names, so each check runs in a Python process of its own; the
wire-level behaviour is in tests/protocol/test_own_loops.py.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio
    from typing import Any, cast

    from async_kernel.runtime._own_loops import install_own_loops
    from async_kernel.runtime._interrupts import CellState, current_cell

    original_run = asyncio.run
    install_own_loops(None)
    assert asyncio.run.__wrapped__ is original_run
    assert asyncio.run.__name__ == "run"


    async def nested() -> None:
        loop = asyncio.get_running_loop()
        coroutine = asyncio.sleep(0)
        try:
            asyncio.run(coroutine)
        except RuntimeError as error:
            coroutine.close()
            print("outside a cell:", error)
        token = current_cell.set(CellState(cast(Any, None), 1))
        try:
            print("inside a cell:", asyncio.run(asyncio.sleep(0, "ran")))
            print("kernel loop back:", asyncio.get_running_loop() is loop)
        finally:
            current_cell.reset(token)


    asyncio.run(nested())
    print("top level:", asyncio.run(asyncio.sleep(0, "plain")))
    """
)


def test_wrappers_only_act_in_a_cell() -> None:
    """Outside a cell asyncio.run keeps its error; in one it runs and the loop comes back."""
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "outside a cell: asyncio.run() cannot be called from a running event loop",
        "inside a cell: ran",
        "kernel loop back: True",
        "top level: plain",
    ]
