"""Subshells (JEP 91) over the wire: control requests, parallel cells, namespaces, bad input.

Parallelism is proven without timing: cells in different shells meet at a
``threading.Barrier``, which only opens if they block at the same moment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.kernel_fixtures import outputs, running_kernel, stdout_of

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.kernel_fixtures import KernelHarness


def create_subshell(kernel: KernelHarness) -> str:
    reply = kernel.reply_for(kernel.send("control", "create_subshell_request", {}), "control")
    assert reply["msg_type"] == "create_subshell_reply"
    assert reply["content"]["status"] == "ok"
    subshell_id = reply["content"]["subshell_id"]
    assert isinstance(subshell_id, str)
    return subshell_id


def delete_subshell(kernel: KernelHarness, subshell_id: str) -> dict[str, Any]:
    msg_id = kernel.send("control", "delete_subshell_request", {"subshell_id": subshell_id})
    reply = kernel.reply_for(msg_id, "control")
    assert reply["msg_type"] == "delete_subshell_reply"
    return reply["content"]


def list_subshells(kernel: KernelHarness) -> list[str]:
    reply = kernel.reply_for(kernel.send("control", "list_subshell_request", {}), "control")
    assert reply["msg_type"] == "list_subshell_reply"
    return reply["content"]["subshell_id"]


def send_execute(kernel: KernelHarness, code: str, subshell_id: str | None, **options: Any) -> str:
    content = {
        "code": code,
        "silent": False,
        "store_history": True,
        "user_expressions": {},
        "allow_stdin": False,
        "stop_on_error": True,
        **options,
    }
    header = {} if subshell_id is None else {"subshell_id": subshell_id}
    return kernel.send("shell", "execute_request", content, **header)


def run_in(
    kernel: KernelHarness, code: str, subshell_id: str | None, **options: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    msg_id = send_execute(kernel, code, subshell_id, **options)
    return kernel.reply_for(msg_id), kernel.iopub_for(msg_id)


def result_of(kernel: KernelHarness, expression: str, subshell_id: str | None) -> str:
    reply, messages = run_in(kernel, expression, subshell_id)
    assert reply["content"]["status"] == "ok", reply["content"]
    return outputs(messages, "execute_result")[0]["data"]["text/plain"]


THREAD_NAMES = (
    "import threading\n"
    "sorted(t.name for t in threading.enumerate() if not t.name.startswith('async-caller-worker'))"
)
"""The kernel's threads, without the shared worker pool's (idle workers linger by design)."""


@pytest.fixture
def subshell(kernel: KernelHarness) -> Any:
    subshell_id = create_subshell(kernel)
    yield subshell_id
    delete_subshell(kernel, subshell_id)


# --- control requests -------------------------------------------------------------------------


@pytest.mark.callable_interface
def test_kernel_info_advertises_subshells(kernel: KernelHarness) -> None:
    reply = kernel.reply_for(kernel.send("shell", "kernel_info_request", {}))
    assert "kernel subshells" in reply["content"]["supported_features"]
    assert reply["content"]["protocol_version"] == "5.5"


@pytest.mark.callable_interface
def test_create_list_delete(kernel: KernelHarness) -> None:
    first, second = create_subshell(kernel), create_subshell(kernel)
    assert first != second
    listed = list_subshells(kernel)
    assert listed.index(first) < listed.index(second)
    assert delete_subshell(kernel, first) == {"status": "ok"}
    assert first not in list_subshells(kernel)
    assert second in list_subshells(kernel)
    assert delete_subshell(kernel, second) == {"status": "ok"}


@pytest.mark.callable_interface
def test_subshell_requests_carry_the_subshell_in_their_headers(
    kernel: KernelHarness, subshell: str
) -> None:
    reply, messages = run_in(kernel, "print('hi')\n1/0", subshell)
    assert reply["header"]["subshell_id"] == subshell
    assert reply["parent_header"]["subshell_id"] == subshell
    assert reply["content"]["ename"] == "ZeroDivisionError"
    assert stdout_of(messages) == "hi\n"
    for msg in messages:
        assert msg["parent_header"]["subshell_id"] == subshell, msg["msg_type"]
    assert [m["content"]["execution_state"] for m in messages if m["msg_type"] == "status"] == [
        "busy",
        "idle",
    ]


# --- parallelism ------------------------------------------------------------------------------


def test_blocking_cells_in_main_and_subshell_run_in_parallel(
    kernel: KernelHarness, subshell: str
) -> None:
    kernel.execute("import threading\nmeet = threading.Barrier(2, timeout=20)")
    cell = "meet.wait()\nthreading.current_thread().name"
    in_main = send_execute(kernel, cell, None)
    in_subshell = send_execute(kernel, cell, subshell)
    results = {}
    for msg_id in (in_main, in_subshell):
        assert kernel.reply_for(msg_id)["content"]["status"] == "ok"
        results[msg_id] = outputs(kernel.iopub_for(msg_id), "execute_result")[0]["data"]
    assert results[in_main]["text/plain"] == "'MainThread'"
    assert "Subshell" in results[in_subshell]["text/plain"]


def test_blocking_cells_in_two_subshells_run_in_parallel_while_main_answers(
    kernel: KernelHarness,
) -> None:
    first, second = create_subshell(kernel), create_subshell(kernel)
    try:
        kernel.execute("import threading\nmeet = threading.Barrier(3, timeout=20)")
        waiting = [send_execute(kernel, "meet.wait()", first)]
        waiting.append(send_execute(kernel, "meet.wait()", second))
        # Both subshells block; the main shell still runs cells and answers.
        assert result_of(kernel, "21 * 2", None) == "42"
        info = kernel.reply_for(kernel.send("shell", "kernel_info_request", {}))
        assert info["content"]["status"] == "ok"
        reply, _ = kernel.execute("meet.wait()")
        assert reply["content"]["status"] == "ok"
        for msg_id in waiting:
            assert kernel.reply_for(msg_id)["content"]["status"] == "ok"
    finally:
        delete_subshell(kernel, first)
        delete_subshell(kernel, second)


@pytest.mark.callable_interface
def test_each_shell_has_its_own_execution_count(kernel: KernelHarness, subshell: str) -> None:
    kernel.execute("pass")
    main_count = kernel.execute("pass")[0]["content"]["execution_count"]
    assert main_count >= 2
    counts = [run_in(kernel, "pass", subshell)[0]["content"]["execution_count"] for _ in range(3)]
    assert counts == [1, 2, 3]
    assert kernel.execute("pass")[0]["content"]["execution_count"] == main_count + 1


# --- namespaces -------------------------------------------------------------------------------


@pytest.mark.callable_interface
def test_subshell_reads_main_names_and_keeps_its_own(kernel: KernelHarness) -> None:
    first, second = create_subshell(kernel), create_subshell(kernel)
    try:
        kernel.execute("shared_value = 1")
        assert result_of(kernel, "shared_value + 1", first) == "2"
        run_in(kernel, "only_here = 10\nshared_value = 5", first)
        assert result_of(kernel, "shared_value", first) == "5"
        assert result_of(kernel, "shared_value", None) == "1"
        for shell in (None, second):
            reply, _ = run_in(kernel, "only_here", shell)
            assert reply["content"]["ename"] == "NameError"
        # Main-shell changes show through where the subshell has no name of its own.
        kernel.execute("shared_value = 2\nlater = 3")
        assert result_of(kernel, "(shared_value, later)", first) == "(5, 3)"
        assert result_of(kernel, "(shared_value, later)", second) == "(2, 3)"
    finally:
        delete_subshell(kernel, first)
        delete_subshell(kernel, second)


@pytest.mark.callable_interface
def test_functions_and_classes_defined_in_a_subshell_see_its_names(
    kernel: KernelHarness, subshell: str
) -> None:
    kernel.execute("base = 100")
    code = (
        "offset = 7\n"
        "def total(n):\n"
        "    return base + offset + n\n"
        "class Box:\n"
        "    def value(self):\n"
        "        return total(0)\n"
        "squares = [offset * i for i in range(2)]\n"
        "def bump():\n"
        "    global offset\n"
        "    offset += 1\n"
        "bump()\n"
    )
    reply, _ = run_in(kernel, code, subshell)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert result_of(kernel, "(total(1), Box().value(), squares)", subshell) == "(109, 108, [0, 7])"
    assert result_of(kernel, "Box.__module__", subshell) == "'__main__'"
    assert result_of(kernel, "'base' in globals(), 'offset' in globals()", subshell) == (
        "(True, True)"
    )
    reply, _ = kernel.execute("offset")
    assert reply["content"]["ename"] == "NameError"


@pytest.mark.callable_interface
def test_shared_mode_writes_to_the_main_namespace(kernel: KernelHarness, subshell: str) -> None:
    reply, messages = run_in(kernel, "%subshell --shared", subshell)
    assert reply["content"]["status"] == "ok"
    assert "namespace: shared" in stdout_of(messages)
    run_in(kernel, "from_shared_subshell = 'yes'", subshell)
    assert result_of(kernel, "from_shared_subshell", None) == "'yes'"
    run_in(kernel, "%subshell --layered", subshell)
    run_in(kernel, "from_layered_subshell = 1", subshell)
    reply, _ = kernel.execute("from_layered_subshell")
    assert reply["content"]["ename"] == "NameError"


@pytest.mark.callable_interface
def test_subshell_magic_reports_the_shell(kernel: KernelHarness, subshell: str) -> None:
    _, messages = run_in(kernel, "%subshell", subshell)
    text = stdout_of(messages)
    assert f"subshell id: {subshell}" in text
    assert "namespace: layered" in text
    _, messages = kernel.execute("%subshell")
    text = stdout_of(messages)
    assert "subshell id: None (the main shell)" in text
    assert subshell in text
    reply, _ = run_in(kernel, "%subshell --nonsense", subshell)
    assert reply["content"]["status"] == "error"


@pytest.mark.callable_interface
def test_magics_and_history_work_in_a_subshell(kernel: KernelHarness, subshell: str) -> None:
    run_in(kernel, "first_input = 1", subshell)
    run_in(kernel, "second_input = 2", subshell)
    _, messages = run_in(kernel, "%history -n", subshell)
    text = stdout_of(messages)
    assert "1: first_input = 1" in text
    assert "2: second_input = 2" in text
    assert result_of(kernel, "In[1]", subshell) == "'first_input = 1'"
    _, messages = run_in(kernel, "%timeit -n1 -r1 sum(range(10))", subshell)
    assert "per loop" in stdout_of(messages)


@pytest.mark.callable_interface
def test_complete_and_inspect_in_a_subshell(kernel: KernelHarness, subshell: str) -> None:
    kernel.execute("main_only_variable = 1")
    run_in(kernel, "subshell_only_variable = 2", subshell)
    msg_id = kernel.send(
        "shell",
        "complete_request",
        {"code": "subshell_only_var", "cursor_pos": 17},
        subshell_id=subshell,
    )
    assert kernel.reply_for(msg_id)["content"]["matches"] == ["subshell_only_variable"]
    msg_id = kernel.send(
        "shell",
        "complete_request",
        {"code": "main_only_var", "cursor_pos": 13},
        subshell_id=subshell,
    )
    assert kernel.reply_for(msg_id)["content"]["matches"] == ["main_only_variable"]
    msg_id = kernel.send(
        "shell",
        "inspect_request",
        {"code": "subshell_only_variable", "cursor_pos": 5, "detail_level": 0},
        subshell_id=subshell,
    )
    content = kernel.reply_for(msg_id)["content"]
    assert content["found"] is True
    in_main = kernel.client.complete("subshell_only_var", 17)
    assert kernel.reply_for(in_main)["content"]["matches"] == []


# --- stdin and interrupts ---------------------------------------------------------------------


@pytest.mark.callable_interface
def test_input_in_a_subshell(kernel: KernelHarness, subshell: str) -> None:
    msg_id = send_execute(kernel, "answer = input('name? ')", subshell, allow_stdin=True)
    request = kernel.client.get_stdin_msg(timeout=30)
    assert request["msg_type"] == "input_request"
    assert request["parent_header"]["msg_id"] == msg_id
    assert request["parent_header"]["subshell_id"] == subshell
    assert request["content"]["prompt"] == "name? "
    kernel.client.input("ada")
    assert kernel.reply_for(msg_id)["content"]["status"] == "ok"
    kernel.iopub_for(msg_id)
    assert result_of(kernel, "answer", subshell) == "'ada'"


@pytest.mark.callable_interface
@pytest.mark.parametrize(
    "cell",
    [
        "import time\nfor _ in range(3000):\n    time.sleep(0.01)",
        "import anyio\nawait anyio.sleep(30)",
        # An interrupt must never land in a thread that is half started (see _interrupts).
        (
            "import threading\nfor _ in range(100_000):\n"
            "    worker = threading.Thread(target=int)\n    worker.start()\n    worker.join()"
        ),
    ],
    ids=["blocking", "awaiting", "starting-threads"],
)
def test_interrupt_stops_cells_in_subshells(fresh_kernel: KernelHarness, cell: str) -> None:
    kernel = fresh_kernel
    if kernel.without_threads and "await" not in cell:
        pytest.skip("without threads or signals only cells that await can be interrupted")
    subshell = create_subshell(kernel)
    in_subshell = send_execute(kernel, cell, subshell)
    in_main = send_execute(kernel, cell, None)
    kernel.iopub_for_started(in_subshell)
    kernel.iopub_for_started(in_main)
    reply = kernel.reply_for(kernel.send("control", "interrupt_request", {}), "control")
    assert reply["content"]["status"] == "ok"
    for shell, msg_id in (("subshell", in_subshell), ("main", in_main)):
        content = kernel.reply_for(msg_id)["content"]
        assert content["status"] == "error", shell
        assert content["ename"] == "KeyboardInterrupt", shell
    assert result_of(kernel, "'still here'", subshell) == "'still here'"


# --- bad input and deletion ---------------------------------------------------------------------


@pytest.fixture(params=["asyncio", "trio"])
def kernel_with_two_subshells_at_most(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[KernelHarness]:
    with running_kernel(
        tmp_path, request.param, env={"ASYNC_KERNEL_MAX_SUBSHELLS": "2"}
    ) as harness:
        yield harness


def test_subshells_beyond_the_limit_get_a_clear_error(
    kernel_with_two_subshells_at_most: KernelHarness,
) -> None:
    """Each subshell is a thread: a client that creates them in a loop must not exhaust them."""
    kernel = kernel_with_two_subshells_at_most
    first, _second = create_subshell(kernel), create_subshell(kernel)
    refused = kernel.reply_for(kernel.send("control", "create_subshell_request", {}), "control")
    assert refused["msg_type"] == "create_subshell_reply"
    assert refused["content"]["status"] == "error"
    assert refused["content"]["ename"] == "TooManySubshellsError"
    assert "ASYNC_KERNEL_MAX_SUBSHELLS" in refused["content"]["evalue"]
    assert len(list_subshells(kernel)) == 2
    assert delete_subshell(kernel, first)["status"] == "ok"
    third = create_subshell(kernel)
    assert result_of(kernel, "'served'", third) == "'served'"


@pytest.mark.callable_interface
def test_unknown_subshell_gets_an_error_and_nothing_runs(kernel: KernelHarness) -> None:
    before = send_execute(kernel, "marker = 'before'", None)
    bogus = send_execute(kernel, "marker = 'bogus'", "no-such-subshell")
    after = send_execute(kernel, "marker", None)
    assert kernel.reply_for(before)["content"]["status"] == "ok"
    content = kernel.reply_for(bogus)["content"]
    assert content["status"] == "error"
    assert content["ename"] == "UnknownSubshellError"
    assert "no-such-subshell" in content["evalue"]
    assert kernel.reply_for(after)["content"]["status"] == "ok"
    assert outputs(kernel.iopub_for(after), "execute_result")[0]["data"]["text/plain"] == "'before'"
    msg_id = kernel.send("shell", "kernel_info_request", {}, subshell_id="also-missing")
    assert kernel.reply_for(msg_id)["content"]["ename"] == "UnknownSubshellError"


@pytest.mark.callable_interface
def test_deleting_an_unknown_subshell_is_an_error(kernel: KernelHarness) -> None:
    content = delete_subshell(kernel, "never-created")
    assert content["status"] == "error"
    assert content["ename"] == "UnknownSubshellError"
    msg_id = kernel.send("control", "delete_subshell_request", {"subshell_id": 7})
    assert kernel.reply_for(msg_id, "control")["content"]["status"] == "error"


def test_deleting_a_busy_subshell_stops_its_cells(fresh_kernel: KernelHarness) -> None:
    kernel = fresh_kernel
    baseline = result_of(kernel, THREAD_NAMES, None)
    subshell = create_subshell(kernel)
    running = send_execute(kernel, "while True:\n    pass", subshell)
    queued = send_execute(kernel, "print('never')", subshell)
    kernel.iopub_for_started(running)
    assert delete_subshell(kernel, subshell) == {"status": "ok"}
    content = kernel.reply_for(running)["content"]
    assert content["ename"] == "KeyboardInterrupt"
    assert kernel.reply_for(queued)["content"]["status"] == "aborted"
    reply, _ = run_in(kernel, "1", subshell)
    assert reply["content"]["ename"] == "UnknownSubshellError"
    assert result_of(kernel, THREAD_NAMES, None) == baseline


def test_subshells_do_not_leak_threads(fresh_kernel: KernelHarness) -> None:
    kernel = fresh_kernel
    baseline = result_of(kernel, THREAD_NAMES, None)
    for round_number in range(200):
        subshell = create_subshell(kernel)
        if round_number % 20 == 0:  # some run cells, which opens their history session
            assert result_of(kernel, f"{round_number} + 1", subshell) == str(round_number + 1)
        assert delete_subshell(kernel, subshell) == {"status": "ok"}
    assert list_subshells(kernel) == []
    assert result_of(kernel, THREAD_NAMES, None) == baseline
