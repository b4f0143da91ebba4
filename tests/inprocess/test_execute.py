"""The execute handler and the shell, in process: replies, output, errors, stop_on_error."""

from __future__ import annotations

import builtins
import sys
import threading

import pytest

from .conftest import InProcessKernel

pytestmark = pytest.mark.anyio


async def test_a_cell_runs_and_its_output_and_result_are_its_own(kernel: InProcessKernel) -> None:
    msg_id = kernel.send("execute_request", {"code": "print('hi')\n6 * 7"})
    reply = await kernel.reply_to(msg_id)
    assert reply["content"]["status"] == "ok"
    assert kernel.stdout(msg_id) == "hi\n"
    [result] = kernel.iopub(msg_id, "execute_result")
    assert result["content"]["data"]["text/plain"] == "42"
    states = [m["content"]["execution_state"] for m in kernel.iopub(msg_id, "status")]
    assert states == ["busy", "idle"]


async def test_top_level_await_and_names_persist(kernel: InProcessKernel) -> None:
    await kernel.request("execute_request", {"code": "import anyio\nawait anyio.sleep(0)\nx = 5"})
    reply = await kernel.request(
        "execute_request", {"code": "pass", "user_expressions": {"double": "x * 2"}}
    )
    assert reply["content"]["user_expressions"]["double"]["data"]["text/plain"] == "10"


async def test_an_error_aborts_the_cells_sent_before_it_failed(kernel: InProcessKernel) -> None:
    failing = kernel.send("execute_request", {"code": "1 / 0"})
    behind = kernel.send("execute_request", {"code": "print('must not run')"})
    error = await kernel.reply_to(failing)
    assert error["content"]["status"] == "error"
    assert error["content"]["ename"] == "ZeroDivisionError"
    [published] = kernel.iopub(failing, "error")
    assert published["content"]["ename"] == "ZeroDivisionError"
    aborted = await kernel.reply_to(behind)
    assert aborted["content"]["status"] == "aborted"
    assert kernel.stdout(behind) == ""
    later = await kernel.request("execute_request", {"code": "print('runs')"})
    assert later["content"]["status"] == "ok"


async def test_magics_and_display_reach_the_frontend(kernel: InProcessKernel) -> None:
    code = "from IPython.display import display, HTML\ndisplay(HTML('<b>x</b>'))\n%time pass"
    msg_id = kernel.send("execute_request", {"code": code})
    reply = await kernel.reply_to(msg_id)
    assert reply["content"]["status"] == "ok"
    [display] = kernel.iopub(msg_id, "display_data")
    assert display["content"]["data"]["text/html"] == "<b>x</b>"
    assert "Wall time" in kernel.stdout(msg_id)


async def test_the_kernel_puts_back_what_it_took_from_the_process(anyio_backend: str) -> None:
    """stdout, input, thread start and the IPython singleton are the test's again afterwards."""
    import anyio
    from IPython.core.interactiveshell import InteractiveShell

    before = (sys.stdout, sys.stderr, builtins.input, threading.Thread.start)
    inprocess = InProcessKernel(anyio_backend)
    async with anyio.create_task_group() as tasks:
        await tasks.start(inprocess.callable.serve)
        inprocess.streams = sys.stdout, sys.stderr
        assert sys.stdout is not before[0]
        assert builtins.input is not before[2]
        reply = await inprocess.request("execute_request", {"code": "get_ipython().kernel"})
        assert reply["content"]["status"] == "ok"
        inprocess.send("shutdown_request", channel="control")
    assert (sys.stdout, sys.stderr, builtins.input, threading.Thread.start) == before
    assert not InteractiveShell.initialized()
