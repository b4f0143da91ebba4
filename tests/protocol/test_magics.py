"""async-kernel's magics over the wire: %connect_info, %thread, %asyncio, %trio, %callers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.kernel_fixtures import KernelHarness, outputs, stdout_of


def run(
    kernel: KernelHarness, code: str, **header: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}}
    msg_id = kernel.send("shell", "execute_request", content, **header)
    return kernel.reply_for(msg_id)["content"], kernel.iopub_for(msg_id)


def result(kernel: KernelHarness, code: str, **header: str) -> str:
    reply, messages = run(kernel, code, **header)
    assert reply["status"] == "ok", (reply, messages)
    (value,) = outputs(messages, "execute_result")
    return value["data"]["text/plain"]


def kernel_backend(kernel: KernelHarness) -> str:
    return result(kernel, "import sniffio\nsniffio.current_async_library()").strip("'")


def test_connect_info_shows_the_connection_file(kernel: KernelHarness) -> None:
    reply, messages = run(kernel, "%connect_info")
    assert reply["status"] == "ok"
    text = stdout_of(messages)
    shown = json.loads(text[: text.index("\n}") + 2])
    assert shown["shell_port"] == kernel.client.shell_port
    assert shown["key"] == kernel.client.session.key.decode()
    path = text.split("Connection file: ", 1)[1].splitlines()[0]
    assert Path(path).resolve() == Path(kernel.manager.connection_file).resolve()
    assert f"jupyter console --existing {path}" in text


def test_thread_line_magic_runs_in_a_worker_of_the_kernels_backend(kernel: KernelHarness) -> None:
    backend = kernel_backend(kernel)
    code = "import threading, sniffio\n%thread threading.current_thread().name, sniffio.current_async_library()"
    assert result(kernel, code) == f"('async-caller:worker-{backend}', '{backend}')"


def test_thread_cell_magic_with_name_and_backend_awaits_and_shares_names(
    kernel: KernelHarness,
) -> None:
    code = (
        '%%thread name="magic worker" backend=trio\n'
        "import threading, trio\n"
        "await trio.sleep(0)\n"
        "made_in_thread = threading.current_thread().name\n"
        "made_in_thread"
    )
    assert result(kernel, code) == "'async-caller:magic worker'"
    assert result(kernel, "made_in_thread") == "'async-caller:magic worker'"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_backend_magics_run_in_that_backend_whatever_the_kernels(
    kernel: KernelHarness, backend: str
) -> None:
    assert (
        result(kernel, f"%{backend} import sniffio; sniffio.current_async_library()")
        == f"'{backend}'"
    )
    code = (
        f"%%{backend}\nimport anyio, sniffio\nawait anyio.sleep(0)\nsniffio.current_async_library()"
    )
    assert result(kernel, code) == f"'{backend}'"


def test_magics_work_inside_a_function_a_cell_defines(kernel: KernelHarness) -> None:
    code = (
        "def doubled_elsewhere(n):\n"
        "    value = %trio n * 2\n"
        "    where = %thread name=helper threading.current_thread().name\n"
        "    return value, where\n"
        "import threading\n"
        "doubled_elsewhere(21)"
    )
    assert result(kernel, code) == "(42, 'async-caller:helper')"


def test_magics_work_in_a_subshell_with_its_names(kernel: KernelHarness) -> None:
    reply = kernel.reply_for(kernel.send("control", "create_subshell_request", {}), "control")
    subshell_id = reply["content"]["subshell_id"]
    try:
        run(kernel, "only_in_subshell = 7", subshell_id=subshell_id)
        assert result(kernel, "%thread only_in_subshell * 6", subshell_id=subshell_id) == "42"
        reply, _ = run(kernel, "%thread only_in_subshell")
        assert reply["ename"] == "NameError"  # the main shell does not see it
    finally:
        kernel.reply_for(
            kernel.send("control", "delete_subshell_request", {"subshell_id": subshell_id}),
            "control",
        )


@pytest.mark.parametrize(
    ("code", "ename", "says"),
    [
        ("%%thread\n1 / 0", "ZeroDivisionError", "division by zero"),
        ("%trio undefined_name", "NameError", "undefined_name"),
        ("%thread backend=curio 1", "UsageError", "unknown backend 'curio'"),
        ("%%trio backend=asyncio\n1", "UsageError", "takes name="),
        ("%thread", "UsageError", "needs code to run"),
        ("%%thread 1 + 1\n2", "UsageError", "the code goes in the cell"),
        ("%callers now", "UsageError", "takes no arguments"),
    ],
)
def test_errors_in_magics_are_ordinary_cell_errors(
    kernel: KernelHarness, code: str, ename: str, says: str
) -> None:
    reply, messages = run(kernel, code)
    assert reply["status"] == "error"
    assert reply["ename"] == ename
    shown = reply["evalue"] + "".join(
        m["content"]["text"] for m in messages if m["msg_type"] == "stream"
    )
    assert says in shown


def test_callers_lists_the_live_callers_with_their_relations(kernel: KernelHarness) -> None:
    backend = kernel_backend(kernel)
    run(kernel, "%thread name=listed backend=trio 1")
    reply, messages = run(kernel, "%callers")
    assert reply["status"] == "ok"
    lines = stdout_of(messages).splitlines()
    assert lines[0].split() == [
        "name",
        "thread",
        "backend",
        "running",
        "queued",
        "parent",
        "children",
    ]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert "MainThread (main)" in rows["Shell"]
    assert f" {backend} " in rows["Shell"]
    assert "Control" in rows
    assert "async-caller:listed" in rows["listed"]
    assert " trio " in rows["listed"]
