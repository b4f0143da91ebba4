"""LocalClient over the wire: a `# task` cell drives its own kernel, as a frontend would."""

from __future__ import annotations

import ast

import pytest

from tests.kernel_fixtures import KernelHarness, stdout_of
from tests.protocol.test_directives import run_cell, send_cell

TALK = """# task
from async_kernel.messaging import LocalClient

async with LocalClient() as client:
    info = await client.kernel_info()
    done = await client.execute("answer = 21 * 2\\nprint('inner ran')", user_expressions={"a": "answer"})
    completed = await client.complete("import o")
    inspected = await client.inspect("len")
print(repr((
    info.content["implementation"],
    done.status,
    done.stdout,
    done.content["user_expressions"]["a"]["data"]["text/plain"],
    "os" in completed.content["matches"],
    inspected.content["found"],
)))
"""


@pytest.mark.callable_interface
def test_a_task_cell_talks_to_its_own_kernel(kernel: KernelHarness) -> None:
    reply, messages = run_cell(kernel, TALK)
    assert reply["status"] == "ok", messages
    printed = stdout_of(messages).strip().splitlines()[-1]
    assert ast.literal_eval(printed) == ("async_kernel", "ok", "inner ran\n", "42", True, True)
    reply, _ = run_cell(kernel, "answer")  # the inner cell ran in the main shell
    assert reply["status"] == "ok"


@pytest.mark.callable_interface
def test_in_a_queued_cell_it_says_to_use_a_task_cell(kernel: KernelHarness) -> None:
    reply, _ = run_cell(kernel, TALK.removeprefix("# task\n"))
    assert reply["status"] == "error"
    assert reply["ename"] == "ClientError"
    assert "'# task'" in reply["evalue"]
    assert "wait behind this very cell" in reply["evalue"]


@pytest.mark.callable_interface
def test_its_interrupt_stops_every_running_cell_its_own_included(kernel: KernelHarness) -> None:
    run_cell(kernel, "import anyio")
    slow = send_cell(kernel, "await anyio.sleep(60)")
    kernel.iopub_for_started(slow)
    # The slow cell awaits: the main thread's loop runs this task cell meanwhile.
    code = """# task
from async_kernel.messaging import LocalClient

async with LocalClient() as client:
    await client.interrupt()
    await anyio.sleep(60)  # the interrupt reaches this cell too
"""
    reply, _ = run_cell(kernel, code)
    assert reply["status"] == "error"
    assert reply["ename"] == "KeyboardInterrupt"
    assert kernel.reply_for(slow)["content"]["ename"] == "KeyboardInterrupt"
    kernel.iopub_for(slow)
