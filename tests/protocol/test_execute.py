"""Executing cells over the wire: output, results, errors, display and execution counts."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from tests.kernel_fixtures import TIMEOUT, KernelHarness, outputs, stdout_of

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.callable_interface
def test_print_goes_to_stdout_stream(kernel: KernelHarness) -> None:
    reply, messages = kernel.execute("print('hello')")
    assert reply["content"]["status"] == "ok"
    assert stdout_of(messages) == "hello\n"


@pytest.mark.callable_interface
def test_every_request_is_wrapped_in_busy_then_idle(kernel: KernelHarness) -> None:
    _, messages = kernel.execute("1")
    states = [c["execution_state"] for c in outputs(messages, "status")]
    assert states == ["busy", "idle"]
    assert messages[0]["msg_type"] == "status"


@pytest.mark.callable_interface
def test_execute_input_and_result_carry_the_execution_count(kernel: KernelHarness) -> None:
    reply, messages = kernel.execute("6 * 7")
    count = reply["content"]["execution_count"]
    assert outputs(messages, "execute_input") == [{"code": "6 * 7", "execution_count": count}]
    (result,) = outputs(messages, "execute_result")
    assert result["execution_count"] == count
    assert result["data"]["text/plain"] == "42"
    reply2, _ = kernel.execute("None")
    assert reply2["content"]["execution_count"] == count + 1


@pytest.mark.callable_interface
def test_error_gives_error_reply_and_error_message(kernel: KernelHarness) -> None:
    reply, messages = kernel.execute("1 / 0")
    content = reply["content"]
    assert content["status"] == "error"
    assert content["ename"] == "ZeroDivisionError"
    (error,) = outputs(messages, "error")
    assert error["ename"] == "ZeroDivisionError"
    assert any("ZeroDivisionError" in line for line in error["traceback"])


@pytest.mark.callable_interface
def test_syntax_error_is_reported(kernel: KernelHarness) -> None:
    reply, _ = kernel.execute("def (")
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "SyntaxError"


@pytest.mark.callable_interface
def test_top_level_await(kernel: KernelHarness) -> None:
    reply, messages = kernel.execute("import anyio\nawait anyio.sleep(0)\nprint('awaited')")
    assert reply["content"]["status"] == "ok"
    assert stdout_of(messages) == "awaited\n"


@pytest.mark.callable_interface
def test_display_update_and_clear_output(kernel: KernelHarness) -> None:
    code = (
        "from IPython.display import display, clear_output\n"
        "handle = display('first', display_id=True)\n"
        "handle.update('second')\n"
        "clear_output(wait=True)\n"
    )
    reply, messages = kernel.execute(code)
    assert reply["content"]["status"] == "ok"
    types = [m["msg_type"] for m in messages if m["msg_type"] != "status"]
    assert types == ["execute_input", "display_data", "update_display_data", "clear_output"]
    (display,) = outputs(messages, "display_data")
    (update,) = outputs(messages, "update_display_data")
    assert display["transient"]["display_id"] == update["transient"]["display_id"]
    assert update["data"]["text/plain"] == "'second'"
    assert outputs(messages, "clear_output") == [{"wait": True}]


@pytest.mark.callable_interface
def test_user_expressions(kernel: KernelHarness) -> None:
    reply, _ = kernel.execute("x = 5", user_expressions={"double": "x * 2", "bad": "1/0"})
    expressions = reply["content"]["user_expressions"]
    assert expressions["double"]["status"] == "ok"
    assert expressions["double"]["data"]["text/plain"] == "10"
    assert expressions["bad"]["status"] == "error"


@pytest.mark.callable_interface
def test_silent_execution_publishes_no_input_or_result(kernel: KernelHarness) -> None:
    before, _ = kernel.execute("None")
    reply, messages = kernel.execute("1 + 1", silent=True)
    assert reply["content"]["status"] == "ok"
    assert outputs(messages, "execute_input") == []
    assert outputs(messages, "execute_result") == []
    after, _ = kernel.execute("None")
    assert after["content"]["execution_count"] == before["content"]["execution_count"] + 1


@pytest.mark.callable_interface
def test_store_history_false_keeps_the_count(kernel: KernelHarness) -> None:
    first, _ = kernel.execute("None", store_history=False)
    second, _ = kernel.execute("None", store_history=False)
    assert first["content"]["execution_count"] == second["content"]["execution_count"]


FAIL_AFTER_THE_NEXT_REQUEST = (
    "import time\n"
    "from async_kernel.runtime._context import current_request\n"
    "dispatcher, own = get_ipython().kernel.dispatcher, current_request.get().seq\n"
    "deadline = time.monotonic() + 30\n"
    "while dispatcher.last_seq <= own and time.monotonic() < deadline:\n"
    "    time.sleep(0.001)\n"
)
"""A cell's first lines: wait until the kernel has received the request sent after this one.

The client sends both at once, but under load the second can reach the kernel after the first
has failed; it then runs, as the messaging spec allows (only requests the kernel has are
aborted). These tests are about what happens to a request the kernel had.

Not on the callable interface: there, a failing cell aborts only what the host had already
passed on (docs/lite.md), and the host's order of delivery cannot be waited on from a cell.
"""


def test_stop_on_error_aborts_queued_cells(kernel: KernelHarness) -> None:
    client = kernel.client
    failing = client.execute(FAIL_AFTER_THE_NEXT_REQUEST + "raise ValueError('boom')")
    queued = client.execute("print('must not run')")
    assert kernel.reply_for(failing)["content"]["status"] == "error"
    aborted = kernel.reply_for(queued)
    assert aborted["content"]["status"] == "aborted"
    assert stdout_of(kernel.iopub_for(queued)) == ""
    reply, messages = kernel.execute("print('runs again')")
    assert reply["content"]["status"] == "ok"
    assert stdout_of(messages) == "runs again\n"


def test_aborted_reply_has_no_execution_count(kernel: KernelHarness) -> None:
    """A cell aborted after an error gets ``{"status": "aborted"}`` and no count.

    JupyterLab shows a reply's ``execution_count`` as the cell's prompt: a count in the
    aborted reply made a cell that never ran show ``[n]:``, the number the next cell gets.
    """
    client = kernel.client
    # What JupyterLab's "Run All Cells" sends: all requests at once.
    first = client.execute("print('first')")
    failing = client.execute(FAIL_AFTER_THE_NEXT_REQUEST + "1 / 0")
    queued = client.execute("print('must not run')")
    count = kernel.reply_for(first)["content"]["execution_count"]
    assert kernel.reply_for(failing)["content"]["execution_count"] == count + 1
    aborted = kernel.reply_for(queued)
    assert aborted["content"] == {"status": "aborted"}
    assert [m["msg_type"] for m in kernel.iopub_for(queued)] == ["status", "status"]
    reply, _ = kernel.execute("None")
    assert reply["content"]["execution_count"] == count + 2


def test_stop_on_error_aborts_cells_the_io_thread_had_not_read(
    kernel: KernelHarness, tmp_path: Path
) -> None:
    """A cell sent before the failure is aborted even if the kernel had not read it yet.

    On a busy machine the IO thread may not have taken the next request off its socket when
    a cell fails. Here the failing cell holds the IO thread until the client has sent the
    next cell, and fails while the IO thread is still held.
    """
    blocked, sent = tmp_path / "io-blocked", tmp_path / "sent"
    failing = kernel.client.execute(
        "import pathlib, threading, time\n"
        "held, release = threading.Event(), threading.Event()\n"
        "get_ipython().kernel.transport.call_soon(lambda: (held.set(), release.wait(30)))\n"
        "held.wait(30)\n"
        f"pathlib.Path({str(blocked)!r}).touch()\n"
        f"while not pathlib.Path({str(sent)!r}).exists():\n"
        "    time.sleep(0.01)\n"
        "threading.Timer(0.5, release.set).start()\n"
        "1 / 0"
    )
    deadline = time.monotonic() + TIMEOUT
    while not blocked.exists():
        assert time.monotonic() < deadline, "the cell never held the IO thread"
        time.sleep(0.01)
    queued = kernel.client.execute("print('must not run')")
    sent.touch()
    assert kernel.reply_for(failing)["content"]["status"] == "error"
    assert kernel.reply_for(queued)["content"] == {"status": "aborted"}
    assert "must not run" not in stdout_of(kernel.iopub_for(queued))


def _made_now(kernel: KernelHarness, code: str, session: str | None = None) -> dict[str, Any]:
    """An execute_request made (and dated) now, to be sent later."""
    content = {"code": code, "silent": False, "store_history": True, "stop_on_error": True}
    msg = kernel.client.session.msg("execute_request", {**content, "user_expressions": {}})
    if session is not None:
        msg["header"]["session"] = session
    return msg


@pytest.mark.callable_interface
def test_stop_on_error_aborts_a_request_made_before_the_failure_that_arrives_after(
    kernel: KernelHarness,
) -> None:
    """JupyterLab's Run All through jupyter_server: the next cell can reach the kernel late.

    It was made with the failing one, before its client could see the error, so it is
    aborted as if it had been queued. A request from another client made at the same time,
    and one made after the error, run.
    """
    failing = _made_now(kernel, "1 / 0")
    late = _made_now(kernel, "print('must not run')")
    other_client = _made_now(kernel, "print('another client')", session="another-client")
    kernel.client.shell_channel.send(failing)
    assert kernel.reply_for(failing["header"]["msg_id"])["content"]["status"] == "error"
    for msg in (late, other_client):
        kernel.client.shell_channel.send(msg)
    aborted = kernel.reply_for(late["header"]["msg_id"])
    assert aborted["content"] == {"status": "aborted"}
    assert stdout_of(kernel.iopub_for(late["header"]["msg_id"])) == ""
    other_reply = kernel.reply_for(other_client["header"]["msg_id"])
    assert other_reply["content"]["status"] == "ok"
    assert stdout_of(kernel.iopub_for(other_client["header"]["msg_id"])) == "another client\n"
    reply, messages = kernel.execute("print('runs again')")
    assert reply["content"]["status"] == "ok"
    assert stdout_of(messages) == "runs again\n"


def test_stop_on_error_counts_from_when_the_failing_request_arrived(
    kernel: KernelHarness, tmp_path: Path
) -> None:
    """Run All where the failing cell waits behind a slow one and the next request is late.

    The client cannot see the error before the kernel sends it, so a request it made while the
    failing one waited in the kernel was made blind to the error, and is aborted even when it
    arrives after the failure. The rule once counted only the failing cell's own short run,
    and JupyterLab under load ran the cell after an error.
    """
    started, arrived, go = tmp_path / "started", tmp_path / "arrived", tmp_path / "go"
    first = kernel.client.execute(
        "import pathlib, time\n"
        "dispatcher = get_ipython().kernel.dispatcher\n"
        "seen = dispatcher.last_seq\n"
        f"pathlib.Path({str(started)!r}).touch()\n"
        "while dispatcher.last_seq == seen:\n"
        "    time.sleep(0.005)\n"
        f"pathlib.Path({str(arrived)!r}).touch()\n"
        f"while not pathlib.Path({str(go)!r}).exists():\n"
        "    time.sleep(0.005)\n"
    )
    wait_for_file(started)
    failing = _made_now(kernel, "1 / 0")
    kernel.client.shell_channel.send(failing)
    wait_for_file(arrived)
    transit = (datetime.now(UTC) - failing["header"]["date"]).total_seconds()
    time.sleep(0.5)  # longer than the failing cell takes to fail, once it starts
    late = _made_now(kernel, "print('must not run')")
    # Longer than the failing request took to arrive: the failure is then later than the
    # late request's date by more than that transit, whatever the machine's load.
    time.sleep(max(0.1, 2 * transit))
    go.touch()
    assert kernel.reply_for(first)["content"]["status"] == "ok"
    assert kernel.reply_for(failing["header"]["msg_id"])["content"]["status"] == "error"
    kernel.client.shell_channel.send(late)
    assert kernel.reply_for(late["header"]["msg_id"])["content"] == {"status": "aborted"}
    assert stdout_of(kernel.iopub_for(late["header"]["msg_id"])) == ""
    assert kernel.execute("print('runs again')")[0]["content"]["status"] == "ok"


def wait_for_file(path: Path) -> None:
    """Wait until a cell has created ``path``."""
    deadline = time.monotonic() + TIMEOUT
    while not path.exists():
        assert time.monotonic() < deadline, f"the cell never created {path.name}"
        time.sleep(0.005)


@pytest.mark.callable_interface
def test_stop_on_error_false_runs_the_next_cell(kernel: KernelHarness) -> None:
    client = kernel.client
    failing = client.execute("raise ValueError('boom')", stop_on_error=False)
    queued = client.execute("print('still runs')")
    assert kernel.reply_for(failing)["content"]["status"] == "error"
    assert kernel.reply_for(queued)["content"]["status"] == "ok"


@pytest.mark.callable_interface
def test_pager_payload_for_question_mark(kernel: KernelHarness) -> None:
    reply, _ = kernel.execute("len?")
    (payload,) = reply["content"]["payload"]
    assert payload["source"] == "page"
    assert "Return the number of items" in payload["data"]["text/plain"]


def test_shell_command_output_is_streamed(kernel: KernelHarness) -> None:
    reply, messages = kernel.execute("!echo from-the-shell")
    assert reply["content"]["status"] == "ok"
    assert "from-the-shell" in stdout_of(messages)


@pytest.mark.callable_interface
def test_magics_work(kernel: KernelHarness) -> None:
    reply, messages = kernel.execute("%time x = 1")
    assert reply["content"]["status"] == "ok"
    assert "Wall time" in stdout_of(messages)


def test_output_from_threads_and_tasks_keeps_the_cell_parent(kernel: KernelHarness) -> None:
    code = (
        "import threading, anyio\n"
        "t = threading.Thread(target=lambda: print('from thread'))\n"
        "t.start(); t.join()\n"
        "async def work():\n"
        "    print('from task')\n"
        "async with anyio.create_task_group() as tg:\n"
        "    tg.start_soon(work)\n"
    )
    _, messages = kernel.execute(code)
    assert stdout_of(messages) == "from thread\nfrom task\n"


@pytest.mark.callable_interface
def test_stderr_stream(kernel: KernelHarness) -> None:
    _, messages = kernel.execute("import sys; print('oops', file=sys.stderr)")
    streams = outputs(messages, "stream")
    assert streams == [{"name": "stderr", "text": "oops\n"}]
