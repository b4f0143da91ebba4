"""Cell directives over the wire: first-line comments and cell tags choose how a cell runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.kernel_fixtures import KernelHarness, outputs, stdout_of

if TYPE_CHECKING:
    from collections.abc import Sequence

WHERE = (
    "import threading, sniffio\n"
    "print(threading.current_thread().name, threading.current_thread() is "
    "threading.main_thread(), sniffio.current_async_library())"
)


def send_cell(
    kernel: KernelHarness,
    code: str,
    tags: Sequence[str] = (),
    *,
    silent: bool = False,
    stop_on_error: bool = True,
) -> str:
    """Send an execute_request with cell tags, as nbclient and JupyterLab do; return its id."""
    content = {
        "code": code,
        "silent": silent,
        "store_history": not silent,
        "user_expressions": {},
        "allow_stdin": False,
        "stop_on_error": stop_on_error,
    }
    metadata = {"tags": list(tags)} if tags else {}
    msg = kernel.client.session.msg("execute_request", content, metadata=metadata)
    kernel.client.shell_channel.send(msg)
    return msg["header"]["msg_id"]


def run_cell(
    kernel: KernelHarness, code: str, tags: Sequence[str] = ()
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    msg_id = send_cell(kernel, code, tags)
    return kernel.reply_for(msg_id)["content"], kernel.iopub_for(msg_id)


@pytest.mark.parametrize(
    "first_line", ["# thread", "#thread", "##thread", "#   thread   ", "## thread"]
)
def test_thread_comment_runs_the_cell_in_a_worker_thread(
    kernel: KernelHarness, first_line: str
) -> None:
    reply, messages = run_cell(kernel, f"{first_line}\n{WHERE}")
    assert reply["status"] == "ok", messages
    assert " False " in stdout_of(messages)


def test_thread_tag_runs_the_cell_in_a_worker_thread(kernel: KernelHarness) -> None:
    reply, messages = run_cell(kernel, WHERE, tags=["thread"])
    assert reply["status"] == "ok"
    assert " False " in stdout_of(messages)


def test_named_thread_with_a_backend_runs_there_and_keeps_its_thread(
    kernel: KernelHarness,
) -> None:
    code = f'# thread name="My thread" backend=trio\n{WHERE}\nprint(threading.get_ident())'
    reply, messages = run_cell(kernel, code)
    assert reply["status"] == "ok", messages
    first = stdout_of(messages).splitlines()
    assert first[0] == "async-caller:My thread False trio"
    # The same name is the same thread; the tag form reads the same.
    reply, messages = run_cell(
        kernel, WHERE + "\nprint(threading.get_ident())", ["thread name='My thread'"]
    )
    assert stdout_of(messages).splitlines() == first


def test_a_worker_named_with_another_backend_is_an_error(kernel: KernelHarness) -> None:
    run_cell(kernel, "# thread name=pinned backend=asyncio\npass")
    reply, _ = run_cell(kernel, "# thread name=pinned backend=trio\npass")
    assert reply["status"] == "error"
    assert reply["ename"] == "WorkerCallerError"
    assert "'pinned' runs on asyncio, not trio" in reply["evalue"]


def test_queue_comment_runs_in_the_main_thread(kernel: KernelHarness) -> None:
    reply, messages = run_cell(kernel, f"# queue\n{WHERE}")
    assert reply["status"] == "ok"
    assert " True " in stdout_of(messages)


def test_ordinary_comments_stay_comments(kernel: KernelHarness) -> None:
    for first_line in ("# threads are fine here", "# thread-safe code", "# task: add numbers"):
        reply, messages = run_cell(kernel, f"{first_line}\n{WHERE}")
        assert reply["status"] == "ok", (first_line, messages)
        assert " True " in stdout_of(messages), first_line


def test_tags_of_other_tools_are_ignored(kernel: KernelHarness) -> None:
    reply, messages = run_cell(kernel, WHERE, tags=["parameters", "hide-input"])
    assert reply["status"] == "ok"
    assert " True " in stdout_of(messages)


@pytest.mark.parametrize(
    ("directive", "where", "named", "allowed"),
    [
        ("# timeout=soon", "comment", "bad timeout 'soon'", "positive number of seconds"),
        ("# timeout=-1", "comment", "bad timeout '-1'", "positive number of seconds"),
        ("# thread colour=red", "comment", "unknown argument 'colour'", "name=... and backend="),
        ("# thread backend=curio", "comment", "unknown backend 'curio'", "asyncio, trio"),
        ("# task now", "comment", "unknown argument 'now'", "cell directives are: task, queue"),
        ("# stop-on-error=maybe", "comment", "'maybe'", "stop-on-error=false"),
        ("# task thread", "comment", "'thread' after 'task'", "one of: task, queue, thread"),
        ("timeout", "tag", "'timeout' needs a value", "timeout=SECONDS"),
        ("raises-exception=yes", "tag", "gives it 'yes'", "raises-exception,"),
    ],
)
def test_a_directive_with_a_bad_argument_is_the_cells_error(
    kernel: KernelHarness, directive: str, where: str, named: str, allowed: str
) -> None:
    if where == "tag":
        code, tags = "print('ran')", [directive]
    else:
        code, tags = f"{directive}\nprint('ran')", []
    reply, messages = run_cell(kernel, code, tags)
    assert reply["status"] == "error"
    assert reply["ename"] == "CellDirectiveError"
    assert named in reply["evalue"]
    assert allowed in reply["evalue"]
    assert stdout_of(messages) == ""  # the cell did not run
    (error,) = outputs(messages, "error")
    assert error["ename"] == "CellDirectiveError"


@pytest.mark.parametrize(
    "body", ["import anyio\nawait anyio.sleep(60)", "import time\ntime.sleep(60)"]
)
def test_timeout_interrupts_the_cell_with_an_error_that_says_so(
    kernel: KernelHarness, body: str
) -> None:
    reply, messages = run_cell(kernel, body, tags=["timeout=0.2"])
    assert reply["status"] == "error"
    assert reply["ename"] == "CellTimeoutError"
    assert "timeout of 0.2 s" in reply["evalue"]
    (error,) = outputs(messages, "error")
    assert "timeout of 0.2 s" in error["traceback"][-1]
    # The kernel goes on, and a cell that ends in time is not touched.
    reply, _ = run_cell(kernel, "# timeout=30\nx = 1")
    assert reply["status"] == "ok"


@pytest.mark.parametrize(
    ("tags", "second_status"),
    [
        ([], "aborted"),
        (["raises-exception"], "ok"),
        (["stop-on-error=false"], "ok"),
        (["stop-on-error=true"], "aborted"),
    ],
)
def test_an_expected_error_does_not_abort_the_queued_cells(
    kernel: KernelHarness, tags: list[str], second_status: str
) -> None:
    failing = send_cell(kernel, "import anyio\nawait anyio.sleep(0.05)\n1 / 0", tags)
    queued = send_cell(kernel, "print('queued ran')")
    assert kernel.reply_for(failing)["content"]["status"] == "error"
    assert kernel.reply_for(queued)["content"]["status"] == second_status
    kernel.iopub_for(failing)
    kernel.iopub_for(queued)


def test_silent_execute_runs_while_a_cell_waits(kernel: KernelHarness) -> None:
    run_cell(kernel, "import anyio\nreleased = anyio.Event()")
    waiting = send_cell(kernel, "await released.wait()\nprint('released')")
    kernel.iopub_for_started(waiting)
    # A variable inspector's silent request: queued, it would wait behind the cell forever.
    silent = send_cell(kernel, "released.set()", silent=True)
    assert kernel.reply_for(silent)["content"]["status"] == "ok"
    assert kernel.reply_for(waiting)["content"]["status"] == "ok"
    assert stdout_of(kernel.iopub_for(waiting)) == "released\n"
    kernel.iopub_for(silent)
