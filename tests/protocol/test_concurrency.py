"""The kernel answers while a cell blocks or awaits: control never waits behind shell."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.kernel_fixtures import KernelHarness

BUSY_CELLS = {
    "blocking": "import time; time.sleep(30)",
    "awaiting": "import anyio; await anyio.sleep(30)",
}


@pytest.mark.callable_interface
@pytest.mark.parametrize("cell", list(BUSY_CELLS))
def test_requests_answer_while_a_cell_is_busy(fresh_kernel: KernelHarness, cell: str) -> None:
    kernel = fresh_kernel
    if kernel.without_threads and cell == "blocking":
        pytest.skip("without threads a blocking cell holds the only loop: nothing else runs")
    client = kernel.client
    busy = client.execute(BUSY_CELLS[cell])
    kernel.iopub_for_started(busy)
    requests = {
        "shell kernel_info": (kernel.send("shell", "kernel_info_request", {}), "shell"),
        "control kernel_info": (kernel.send("control", "kernel_info_request", {}), "control"),
        "complete": (client.complete("impo", 4), "shell"),
        "inspect": (client.inspect("len", 3), "shell"),
        "is_complete": (client.is_complete("for x in y:"), "shell"),
        "history": (client.history(hist_access_type="tail", n=5), "shell"),
    }
    for name, (msg_id, channel) in requests.items():
        reply = kernel.reply_for(msg_id, channel)
        expected = "incomplete" if name == "is_complete" else "ok"
        assert reply["content"]["status"] == expected, name
    kernel.manager.interrupt_kernel()
    reply = kernel.reply_for(busy)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"


@pytest.mark.callable_interface
def test_task_cell_lets_the_next_cell_finish_first(kernel: KernelHarness) -> None:
    client = kernel.client
    kernel.execute("import anyio\nrelease = anyio.Event()")
    waiting = client.execute("# task\nawait release.wait()\nprint('task done')")
    kernel.iopub_for_started(waiting)
    setter = client.execute("release.set()\nprint('setter done')")
    first = kernel.reply_for_any({waiting, setter})
    assert first["parent_header"]["msg_id"] == setter
    assert kernel.reply_for(waiting)["content"]["status"] == "ok"


def test_thread_cell_runs_in_a_worker_thread(kernel: KernelHarness) -> None:
    reply, messages = kernel.execute(
        "# thread\nimport threading\nprint(threading.current_thread() is threading.main_thread())"
    )
    assert reply["content"]["status"] == "ok"
    text = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
    assert text == "False\n"


@pytest.mark.callable_interface
def test_complete_inspect_and_is_complete_replies(kernel: KernelHarness) -> None:
    client = kernel.client
    kernel.execute("my_variable = 1")
    complete = kernel.reply_for(client.complete("my_var", 6))["content"]
    assert "my_variable" in complete["matches"]
    assert (complete["cursor_start"], complete["cursor_end"]) == (0, 6)
    inspect = kernel.reply_for(client.inspect("print", 5))["content"]
    assert inspect["found"] is True
    assert "text/plain" in inspect["data"]
    incomplete = kernel.reply_for(client.is_complete("def f():"))["content"]
    assert incomplete["status"] == "incomplete"
    assert incomplete["indent"] == "    "
    assert kernel.reply_for(client.is_complete("x = 1"))["content"]["status"] == "complete"
    assert kernel.reply_for(client.is_complete("x = ("))["content"]["status"] == "incomplete"
    assert kernel.reply_for(client.is_complete("1 +* 2"))["content"]["status"] == "invalid"


@pytest.mark.callable_interface
def test_history_tail_and_search(kernel: KernelHarness) -> None:
    client = kernel.client
    kernel.execute("history_marker = 12345")
    tail = kernel.reply_for(client.history(hist_access_type="tail", n=5, output=False))["content"]
    assert any(entry[2] == "history_marker = 12345" for entry in tail["history"])
    found = kernel.reply_for(
        client.history(hist_access_type="search", pattern="history_marker*", output=False)
    )["content"]
    assert any("history_marker" in entry[2] for entry in found["history"])


def test_thread_cell_runs_on_the_kernels_backend(kernel: KernelHarness) -> None:
    def last_result(code: str) -> str:
        reply, messages = kernel.execute(code)
        assert reply["content"]["status"] == "ok", reply["content"]
        (result,) = [m["content"] for m in messages if m["msg_type"] == "execute_result"]
        return result["data"]["text/plain"]

    backend = last_result("get_ipython().kernel.backend")
    in_thread = last_result(
        "# thread\nimport anyio, sniffio\nawait anyio.sleep(0)\nsniffio.current_async_library()"
    )
    assert in_thread == backend
