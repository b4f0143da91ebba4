"""The kernel on trio: cells await trio directly, the loop persists and interrupts reach cells.

Every test here runs on the trio backend only; the backend-neutral protocol tests run on both.
The test process never imports trio: the cells do, inside the kernel.
"""

from __future__ import annotations

import importlib.util

import pytest

from tests.kernel_fixtures import KernelHarness, outputs, stdout_of

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("async_kernel_trio") is None,
        reason="async-kernel-trio is not installed",
    ),
    pytest.mark.parametrize("kernel", ["trio"], indirect=True),
]


def result_of(kernel: KernelHarness, code: str) -> str:
    """Run ``code``, check it succeeded and return the text of its execute_result."""
    reply, messages = kernel.execute(code)
    assert reply["content"]["status"] == "ok", reply["content"]
    (result,) = outputs(messages, "execute_result")
    return result["data"]["text/plain"]


def wait_until_started(kernel: KernelHarness, msg_id: str) -> None:
    """Wait for the execute_input of ``msg_id``: the cell is running from then on."""
    while True:
        msg = kernel.client.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
            return


def test_top_level_await_of_trio_sleep(kernel: KernelHarness) -> None:
    reply, messages = kernel.execute("import trio\nawait trio.sleep(0.01)\nprint('slept')")
    assert reply["content"]["status"] == "ok"
    assert stdout_of(messages) == "slept\n"


def test_cells_run_in_trio(kernel: KernelHarness) -> None:
    assert result_of(kernel, "import sniffio\nsniffio.current_async_library()") == "'trio'"


def test_the_trio_loop_persists_between_cells(kernel: KernelHarness) -> None:
    kernel.execute("import trio\nfirst_token = trio.lowlevel.current_trio_token()")
    assert result_of(kernel, "trio.lowlevel.current_trio_token() is first_token") == "True"


def test_trio_threads_work_in_cells(kernel: KernelHarness) -> None:
    code = (
        "import trio, sniffio\n"
        "def in_thread():\n"
        "    return trio.from_thread.run_sync(sniffio.current_async_library)\n"
        "await trio.to_thread.run_sync(in_thread)"
    )
    assert result_of(kernel, code) == "'trio'"


def test_a_task_started_with_call_soon_outlives_its_cell(kernel: KernelHarness) -> None:
    kernel.execute(
        "import trio\n"
        "from async_caller import Caller\n"
        "steps = []\n"
        "started, go = trio.Event(), trio.Event()\n"
        "async def background():\n"
        "    steps.append('started')\n"
        "    started.set()\n"
        "    await go.wait()\n"
        "    steps.append('finished')\n"
        "    return 'done'\n"
        "task = Caller.get_current().call_soon(background)\n"
    )
    # The cell has ended; the task still waits for ``go``.
    assert result_of(kernel, "await started.wait()\nsteps, task.done()") == "(['started'], False)"
    assert result_of(kernel, "go.set()\nawait task, steps") == "('done', ['started', 'finished'])"


def test_a_nursery_held_by_a_background_task_serves_later_cells(kernel: KernelHarness) -> None:
    # The pattern for trio users who want a nursery that lives as long as the kernel.
    kernel.execute(
        "import trio\n"
        "from async_caller import Caller\n"
        "nursery_ready = trio.Event()\n"
        "async def hold_nursery():\n"
        "    global nursery\n"
        "    async with trio.open_nursery() as nursery:\n"
        "        nursery_ready.set()\n"
        "        await trio.sleep_forever()\n"
        "holder = Caller.get_current().call_soon(hold_nursery)\n"
        "await nursery_ready.wait()\n"
    )
    kernel.execute(
        "send, receive = trio.open_memory_channel(0)\n"
        "async def counter():\n"
        "    for number in range(3):\n"
        "        await send.send(number)\n"
        "nursery.start_soon(counter)\n"
    )
    assert result_of(kernel, "[await receive.receive() for _ in range(3)]") == "[0, 1, 2]"
    kernel.execute("holder.cancel()")


def test_cancelling_a_task_that_holds_a_nursery_cancels_its_pending(kernel: KernelHarness) -> None:
    kernel.execute(
        "import trio\n"
        "from async_caller import Caller\n"
        "holder_ready = trio.Event()\n"
        "async def hold():\n"
        "    async with trio.open_nursery():\n"
        "        holder_ready.set()\n"
        "        await trio.sleep_forever()\n"
        "holder = Caller.get_current().call_soon(hold)\n"
        "await holder_ready.wait()\n"
    )
    code = (
        "from async_caller import PendingCancelledError\n"
        "holder.cancel()\n"
        "try:\n"
        "    await holder\n"
        "except PendingCancelledError:\n"
        "    print('cancelled')\n"
    )
    reply, messages = kernel.execute(code)
    assert reply["content"]["status"] == "ok"
    assert stdout_of(messages) == "cancelled\n"


def test_a_failing_nursery_child_gives_an_error_reply(kernel: KernelHarness) -> None:
    code = (
        "import trio\n"
        "async def fail():\n"
        "    raise ValueError('child failed')\n"
        "async with trio.open_nursery() as nursery:\n"
        "    nursery.start_soon(fail)\n"
    )
    reply, messages = kernel.execute(code)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "ExceptionGroup"
    (error,) = outputs(messages, "error")
    assert any("child failed" in line for line in error["traceback"])


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("import trio\nawait trio.sleep(30)", id="awaiting-trio-sleep"),
        pytest.param("import time\ntime.sleep(30)", id="blocking-time-sleep"),
    ],
)
def test_interrupt_request_gives_keyboard_interrupt_and_the_kernel_goes_on(
    kernel: KernelHarness, code: str
) -> None:
    msg_id = kernel.client.execute(code)
    wait_until_started(kernel, msg_id)
    interrupt = kernel.send("control", "interrupt_request", {})
    assert kernel.reply_for(interrupt, "control")["content"]["status"] == "ok"
    reply = kernel.reply_for(msg_id)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    (error,) = outputs(kernel.iopub_for(msg_id), "error")
    assert error["ename"] == "KeyboardInterrupt"
    after, messages = kernel.execute("print('next cell')")
    assert after["content"]["status"] == "ok"
    assert stdout_of(messages) == "next cell\n"


def test_interrupting_a_cell_spares_background_tasks(kernel: KernelHarness) -> None:
    kernel.execute(
        "import trio\n"
        "from async_caller import Caller\n"
        "release = trio.Event()\n"
        "survivor = Caller.get_current().call_soon(release.wait)\n"
    )
    msg_id = kernel.client.execute("await trio.sleep(30)")
    wait_until_started(kernel, msg_id)
    kernel.reply_for(kernel.send("control", "interrupt_request", {}), "control")
    assert kernel.reply_for(msg_id)["content"]["ename"] == "KeyboardInterrupt"
    kernel.iopub_for(msg_id)
    assert result_of(kernel, "survivor.done()") == "False"
    assert result_of(kernel, "release.set()\nawait survivor\nsurvivor.done()") == "True"


def test_kernel_info_answers_on_shell_and_control_while_a_cell_awaits(
    kernel: KernelHarness,
) -> None:
    msg_id = kernel.client.execute("import trio\nawait trio.sleep(30)")
    wait_until_started(kernel, msg_id)
    on_shell = kernel.send("shell", "kernel_info_request", {})
    on_control = kernel.send("control", "kernel_info_request", {})
    for request, channel in ((on_shell, "shell"), (on_control, "control")):
        info = kernel.reply_for(request, channel)["content"]
        assert info["status"] == "ok"
        assert info["implementation"] == "async_kernel"
        assert "(trio)" in info["banner"]
    # The cell is still running: end it.
    kernel.reply_for(kernel.send("control", "interrupt_request", {}), "control")
    assert kernel.reply_for(msg_id)["content"]["ename"] == "KeyboardInterrupt"
    kernel.iopub_for(msg_id)
