"""The Jupyter debugger protocol over the wire: debug_request/debug_reply and debug_event.

Each test drives the flow JupyterLab's debugger uses, with jupyter_client, on both backends.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from async_kernel.shell._shell import murmur2
from tests.kernel_fixtures import TIMEOUT, KernelHarness, outputs, stdout_of
from tests.protocol.test_subshells import create_subshell, delete_subshell, send_execute

CELL = """\
def add_one(value):
    result = value + 1
    return result
answer = 41
total = add_one(answer)
print("total", total)
"""
CELL_CALL_LINE = 5


class DebugSession:
    """A frontend's side of the debugger: numbered DAP requests and the events on iopub."""

    def __init__(self, harness: KernelHarness) -> None:
        self.harness = harness
        self._seq = itertools.count(1)

    def request(self, command: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one DAP request in a debug_request; return the DAP response."""
        content: dict[str, Any] = {"type": "request", "seq": next(self._seq), "command": command}
        if arguments is not None:
            content["arguments"] = arguments
        return self.send(content)

    def send(self, content: dict[str, Any]) -> dict[str, Any]:
        """Send raw debug_request content; return the debug_reply content."""
        msg_id = self.harness.send("control", "debug_request", content)
        reply = self.harness.reply_for(msg_id, "control")
        assert reply["msg_type"] == "debug_reply"
        return reply["content"]

    def ok(self, command: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a request that must succeed; return the response body."""
        response = self.request(command, arguments)
        assert response["success"] is True, f"{command}: {response.get('message')}"
        assert response["command"] == command
        return response.get("body", {})

    def event(self, name: str) -> dict[str, Any]:
        """Wait for the next debug_event called ``name`` (other debug events are skipped)."""
        while True:
            content = self.harness.next_iopub_of_type("debug_event")["content"]
            assert content["type"] == "event"
            if content["event"] == name:
                return content

    def start(self) -> None:
        """Initialize and attach, as JupyterLab does when the debugger is switched on."""
        capabilities = self.ok(
            "initialize",
            {
                "clientID": "test",
                "clientName": "pytest",
                "adapterID": "python",
                "pathFormat": "path",
                "linesStartAt1": True,
                "columnsStartAt1": True,
                "supportsVariableType": True,
            },
        )
        assert capabilities["supportsConfigurationDoneRequest"] is True
        self.ok("attach", {})

    def break_at(self, code: str, *lines: int) -> str:
        """Dump the cell and set breakpoints on ``lines``; return the cell's source path."""
        path = self.ok("dumpCell", {"code": code})["sourcePath"]
        body = self.ok(
            "setBreakpoints",
            {"source": {"path": path}, "breakpoints": [{"line": line} for line in lines]},
        )
        assert [point["verified"] for point in body["breakpoints"]] == [True] * len(lines)
        self.ok("configurationDone")
        return path

    def top_frame(self, thread_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The innermost frame of a stopped thread, and the whole stack."""
        body = self.ok("stackTrace", {"threadId": thread_id})
        frames = body["stackFrames"]
        assert body["totalFrames"] == len(frames)
        return frames[0], frames

    def step(self, command: str, thread_id: int) -> dict[str, Any]:
        """Step and wait until the thread stops again; return the new top frame."""
        self.ok(command, {"threadId": thread_id})
        stopped = self.event("stopped")
        assert stopped["body"]["reason"] == "step"
        return self.top_frame(thread_id)[0]


@pytest.fixture
def session(fresh_kernel: KernelHarness) -> DebugSession:
    """A started debugger session on a kernel of the test's own."""
    debugger = DebugSession(fresh_kernel)
    debugger.start()
    return debugger


def test_kernel_info_advertises_the_debugger(kernel: KernelHarness) -> None:
    kernel.client.kernel_info()
    content = kernel.client.get_shell_msg(timeout=TIMEOUT)["content"]
    assert content["debugger"] is True
    assert "debugger" in content["supported_features"]


def test_debug_info_before_start_describes_cell_files(kernel: KernelHarness) -> None:
    debugger = DebugSession(kernel)
    info = debugger.ok("debugInfo")
    assert info["hashMethod"] == "Murmur2"
    assert isinstance(info["hashSeed"], int)
    assert info["tmpFileSuffix"] == ".py"
    assert info["richRendering"] is True
    assert info["copyToGlobals"] is True
    if not info["isStarted"]:
        assert info["breakpoints"] == []
        assert info["stoppedThreads"] == []
    # dumpCell works before the debugger starts, at the path the frontend computes itself.
    path = debugger.ok("dumpCell", {"code": CELL})["sourcePath"]
    expected = f"{info['tmpFilePrefix']}{murmur2(CELL, info['hashSeed'])}{info['tmpFileSuffix']}"
    assert path == expected
    assert Path(path).read_text(encoding="utf-8") == CELL


def test_starting_the_debugger_prints_nothing(fresh_kernel: KernelHarness) -> None:
    request = {"type": "request", "seq": 1, "command": "initialize", "arguments": {}}
    msg_id = fresh_kernel.send("control", "debug_request", request)
    assert fresh_kernel.reply_for(msg_id, "control")["content"]["success"] is True
    assert outputs(fresh_kernel.iopub_for(msg_id), "stream") == []


def test_session_counts_as_started_once_initialized(fresh_kernel: KernelHarness) -> None:
    """JupyterLab takes its started flag from each debugInfo reply, also one sent before 'attach'."""
    debugger = DebugSession(fresh_kernel)
    assert debugger.ok("debugInfo")["isStarted"] is False
    debugger.ok("initialize", {"clientID": "test", "adapterID": "python"})
    assert debugger.ok("debugInfo")["isStarted"] is True
    debugger.ok("attach", {})
    path = debugger.break_at(CELL, CELL_CALL_LINE)
    assert debugger.ok("debugInfo")["breakpoints"] == [
        {"source": path, "breakpoints": [{"line": CELL_CALL_LINE}]}
    ]
    debugger.ok("disconnect", {})
    assert debugger.ok("debugInfo")["isStarted"] is False


def test_a_failed_attach_leaves_the_session_not_started(fresh_kernel: KernelHarness) -> None:
    debugger = DebugSession(fresh_kernel)
    debugger.ok("initialize", {"clientID": "test", "adapterID": "python"})
    refused = debugger.request("attach", {"rules": 5})
    assert refused["success"] is False
    assert debugger.ok("debugInfo")["isStarted"] is False
    debugger.start()
    assert debugger.ok("debugInfo")["isStarted"] is True


def test_whole_protocol_flow(session: DebugSession) -> None:
    kernel = session.harness
    path = session.break_at(CELL, CELL_CALL_LINE)
    info = session.ok("debugInfo")
    assert info["isStarted"] is True
    assert info["breakpoints"] == [{"source": path, "breakpoints": [{"line": CELL_CALL_LINE}]}]

    msg_id = kernel.client.execute(CELL)
    stopped = session.event("stopped")
    assert stopped["body"]["reason"] == "breakpoint"
    thread_id = stopped["body"]["threadId"]
    assert session.ok("debugInfo")["stoppedThreads"] == [thread_id]

    threads = session.ok("threads")["threads"]
    assert thread_id in [thread["id"] for thread in threads]
    assert not any(thread["name"].startswith("async-kernel-") for thread in threads)

    # The stack is the cell's own: none of the kernel's frames below it.
    frame, frames = session.top_frame(thread_id)
    assert frames == [frame]
    assert frame["source"]["path"] == path
    assert frame["name"] == "<module>"
    assert frame["line"] == CELL_CALL_LINE
    source = session.ok("source", {"source": frame["source"], "sourceReference": 0})
    assert source["content"] == CELL

    scopes = session.ok("scopes", {"frameId": frame["id"]})["scopes"]
    assert scopes
    variables = session.ok("variables", {"variablesReference": scopes[0]["variablesReference"]})
    values = {variable["name"]: variable["value"] for variable in variables["variables"]}
    assert values["answer"] == "41"
    assert "total" not in values  # the breakpoint's line has not run yet

    result = session.ok("evaluate", {"expression": "answer * 2", "frameId": frame["id"]})
    assert result["result"] == "82"

    # stepIn enters the function defined in the cell; its frame sits on the cell's.
    inner = session.step("stepIn", thread_id)
    assert (inner["name"], inner["line"]) == ("add_one", 2)
    _, frames = session.top_frame(thread_id)
    assert [f["name"] for f in frames] == ["add_one", "<module>"]
    assert {f["source"]["path"] for f in frames} == {path}

    rich = session.ok("richInspectVariables", {"variableName": "value", "frameId": inner["id"]})
    assert rich["data"]["text/plain"] == "41"
    session.ok(
        "copyToGlobals",
        {"srcVariableName": "value", "dstVariableName": "copied_value", "srcFrameId": inner["id"]},
    )

    assert session.step("next", thread_id)["line"] == 3
    outer = session.step("stepOut", thread_id)
    assert (outer["name"], outer["line"]) == ("<module>", CELL_CALL_LINE)
    assert session.step("next", thread_id)["line"] == CELL_CALL_LINE + 1

    # The control channel keeps answering while the cell is stopped.
    kernel_info_id = kernel.send("control", "kernel_info_request", {})
    assert kernel.reply_for(kernel_info_id, "control")["content"]["status"] == "ok"

    session.ok("continue", {"threadId": thread_id})
    reply = kernel.reply_for(msg_id)
    assert reply["content"]["status"] == "ok"
    assert stdout_of(kernel.iopub_for(msg_id)) == "total 42\n"
    assert session.ok("debugInfo")["stoppedThreads"] == []

    variables = {v["name"]: v for v in session.ok("inspectVariables")["variables"]}
    assert variables["total"]["value"] == "42"
    assert variables["total"]["type"] == "int"
    assert variables["copied_value"]["value"] == "41"
    assert not {"In", "Out", "get_ipython"} & variables.keys()
    rich = session.ok("richInspectVariables", {"variableName": "total"})
    assert rich["data"]["text/plain"] == "42"

    session.ok("disconnect", {"restart": False, "terminateDebuggee": True})
    info = session.ok("debugInfo")
    assert info["isStarted"] is False
    assert info["breakpoints"] == []
    # terminateDebuggee was not passed on: the kernel lives, and the cell runs straight through.
    reply, messages = kernel.execute(CELL)
    assert reply["content"]["status"] == "ok"
    assert stdout_of(messages) == "total 42\n"


def test_session_can_start_again_after_disconnect(session: DebugSession) -> None:
    session.ok("disconnect", {})
    session.start()
    path = session.break_at("first = 1\nsecond = first + 1\n", 2)
    msg_id = session.harness.client.execute("first = 1\nsecond = first + 1\n")
    stopped = session.event("stopped")
    frame, _ = session.top_frame(stopped["body"]["threadId"])
    assert (frame["source"]["path"], frame["line"]) == (path, 2)
    session.ok("continue", {"threadId": stopped["body"]["threadId"]})
    assert session.harness.reply_for(msg_id)["content"]["status"] == "ok"


def test_pause_on_exceptions_raised_in_a_cell(session: DebugSession) -> None:
    filters = session.ok("debugInfo")["exceptionPaths"]
    assert filters == ["Python Exceptions"]
    # IPython catches every cell's exception, so "user unhandled" is the filter for cells.
    session.ok("setExceptionBreakpoints", {"filters": ["userUnhandled"]})
    code = "def fail():\n    raise ValueError('bad value')\nfail()\n"
    path = session.ok("dumpCell", {"code": code})["sourcePath"]
    msg_id = session.harness.client.execute(code)
    stopped = session.event("stopped")
    assert stopped["body"]["reason"] == "exception"
    thread_id = stopped["body"]["threadId"]
    info = session.ok("exceptionInfo", {"threadId": thread_id})
    assert info["description"] == "bad value"
    frame, frames = session.top_frame(thread_id)
    assert (frame["name"], frame["line"], frame["source"]["path"]) == ("fail", 2, path)
    assert len(frames) == 2  # debugpy names the cell's frame "<module> (Current frame)"
    assert frames[1]["name"].startswith("<module>")
    session.ok("continue", {"threadId": thread_id})
    reply = session.harness.reply_for(msg_id)["content"]
    assert (reply["status"], reply["ename"]) == ("error", "ValueError")


def test_breakpoint_in_a_thread_cell(session: DebugSession) -> None:
    code = "# thread\nimport threading\nwhere = threading.current_thread().name\n"
    path = session.break_at(code, 3)
    msg_id = session.harness.client.execute(code)
    stopped = session.event("stopped")
    frame, frames = session.top_frame(stopped["body"]["threadId"])
    assert (frame["source"]["path"], frame["line"]) == (path, 3)
    assert frames == [frame]
    threads = {t["id"]: t["name"] for t in session.ok("threads")["threads"]}
    assert threads[stopped["body"]["threadId"]] != "MainThread"
    session.ok("continue", {"threadId": stopped["body"]["threadId"]})
    assert session.harness.reply_for(msg_id)["content"]["status"] == "ok"


def test_breakpoint_in_a_subshell_shows_its_namespace(session: DebugSession) -> None:
    kernel = session.harness
    assert kernel.execute("from_main = 'main'")[0]["content"]["status"] == "ok"
    subshell_id = create_subshell(kernel)
    code = "from_subshell = 'sub'\nseen = from_main\n"
    path = session.break_at(code, 2)
    msg_id = send_execute(kernel, code, subshell_id)
    stopped = session.event("stopped")
    thread_id = stopped["body"]["threadId"]
    frame, frames = session.top_frame(thread_id)
    assert (frame["source"]["path"], frame["line"]) == (path, 2)
    assert frames == [frame]
    threads = {t["id"]: t["name"] for t in session.ok("threads")["threads"]}
    assert threads[thread_id] != "MainThread"

    # debugpy evaluates in the subshell's own names (it copies the frame's dict, so names
    # that a subshell reads through from the main namespace are not visible there).
    own = session.ok("evaluate", {"expression": "from_subshell * 2", "frameId": frame["id"]})
    assert own["result"] == "'subsub'"
    session.ok(
        "copyToGlobals",
        {
            "srcVariableName": "from_subshell",
            "dstVariableName": "copied",
            "srcFrameId": frame["id"],
        },
    )
    session.ok("continue", {"threadId": thread_id})
    assert kernel.reply_for(msg_id)["content"]["status"] == "ok"

    # copyToGlobals wrote into the namespace of the shell that ran the cell.
    check = "'copied' in globals()"
    for subshell, expected in ((subshell_id, "True"), (None, "False")):
        reply_id = send_execute(kernel, check, subshell)
        assert kernel.reply_for(reply_id)["content"]["status"] == "ok"
        (result,) = outputs(kernel.iopub_for(reply_id), "execute_result")
        assert result["data"]["text/plain"] == expected
    assert delete_subshell(kernel, subshell_id)["status"] == "ok"


def test_other_shells_run_while_a_cell_is_stopped(session: DebugSession) -> None:
    kernel = session.harness
    subshell_id = create_subshell(kernel)
    code = "stopped_here = 1\nstopped_here += 1\n"
    session.break_at(code, 2)
    msg_id = kernel.client.execute(code)
    stopped = session.event("stopped")
    assert stopped["body"]["allThreadsStopped"] is False

    # The breakpoint holds the main shell's thread only: a subshell and completion still answer.
    reply_id = send_execute(kernel, "print('subshell alive')", subshell_id)
    assert kernel.reply_for(reply_id)["content"]["status"] == "ok"
    assert stdout_of(kernel.iopub_for(reply_id)) == "subshell alive\n"
    complete_id = kernel.client.complete("stopped_h", 9)
    assert kernel.reply_for(complete_id)["content"]["matches"] == ["stopped_here"]

    session.ok("continue", {"threadId": stopped["body"]["threadId"]})
    assert kernel.reply_for(msg_id)["content"]["status"] == "ok"
    assert delete_subshell(kernel, subshell_id)["status"] == "ok"


PAUSING_CELL = "import time\npaused_here = 1\ntime.sleep(600)\n"


def test_interrupt_while_paused(session: DebugSession) -> None:
    kernel = session.harness
    later = "after = 1\nafter += 1\n"
    session.break_at(later, 2)  # set before the interrupt, so nothing re-arms debugpy after it
    session.break_at(PAUSING_CELL, 2)
    msg_id = kernel.client.execute(PAUSING_CELL)
    session.event("stopped")

    interrupt_id = kernel.send("control", "interrupt_request", {})
    assert kernel.reply_for(interrupt_id, "control")["content"]["status"] == "ok"
    reply = kernel.reply_for(msg_id)["content"]
    assert (reply["status"], reply["ename"]) == ("error", "KeyboardInterrupt")
    assert session.ok("debugInfo")["stoppedThreads"] == []

    # The interrupt landed in the cell, not in debugpy: the thread is still debugged.
    msg_id = kernel.client.execute(later)
    stopped = session.event("stopped")
    session.ok("continue", {"threadId": stopped["body"]["threadId"]})
    assert kernel.reply_for(msg_id)["content"]["status"] == "ok"


def test_pause_a_running_cell_then_interrupt_it(session: DebugSession) -> None:
    kernel = session.harness
    code = "import time\nwhile True:\n    time.sleep(0.01)\n"
    path = session.ok("dumpCell", {"code": code})["sourcePath"]
    msg_id = kernel.client.execute(code)
    kernel.iopub_for_started(msg_id)
    threads = {t["name"]: t["id"] for t in session.ok("threads")["threads"]}
    session.ok("pause", {"threadId": threads["MainThread"]})
    stopped = session.event("stopped")
    assert stopped["body"]["reason"] == "pause"
    frame, _ = session.top_frame(stopped["body"]["threadId"])
    assert frame["source"]["path"] == path  # held in the cell, wherever the loop was

    interrupt_id = kernel.send("control", "interrupt_request", {})
    assert kernel.reply_for(interrupt_id, "control")["content"]["status"] == "ok"
    reply = kernel.reply_for(msg_id)["content"]
    assert (reply["status"], reply["ename"]) == ("error", "KeyboardInterrupt")


def test_restart_while_paused(session: DebugSession) -> None:
    kernel = session.harness
    cell_folder = Path(session.ok("debugInfo")["tmpFilePrefix"])
    session.break_at(PAUSING_CELL, 2)
    kernel.client.execute(PAUSING_CELL)
    session.event("stopped")

    shutdown_id = kernel.send("control", "shutdown_request", {"restart": True})
    assert kernel.reply_for(shutdown_id, "control")["content"]["restart"] is True
    process = kernel.manager.provisioner.process  # pyright: ignore[reportAttributeAccessIssue,reportOptionalMemberAccess]
    assert process.wait(timeout=TIMEOUT) == 0  # it ended by itself, not killed
    assert not cell_folder.exists()  # the dumped cells went with it

    kernel.manager.restart_kernel(now=True)
    kernel.client.wait_for_ready(timeout=TIMEOUT)
    # Shell only: iopub's subscription to the new process may still be connecting.
    msg_id = kernel.client.execute("restarted = True")
    assert kernel.reply_for(msg_id)["content"]["status"] == "ok"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"type": "request", "seq": 1, "command": "noSuchCommand"}, "unknown debug command"),
        ({"type": "request", "seq": 2}, "'command'"),
        ({"type": "request", "seq": 3, "command": "dumpCell", "arguments": [1]}, "arguments"),
        ({"type": "request", "seq": 4, "command": "dumpCell", "arguments": {"code": 5}}, "code"),
        (
            {
                "type": "request",
                "seq": 5,
                "command": "richInspectVariables",
                "arguments": {"variableName": "1 + 1"},
            },
            "variableName",
        ),
        (
            {
                "type": "request",
                "seq": 6,
                "command": "richInspectVariables",
                "arguments": {"variableName": "never_defined_anywhere"},
            },
            "never_defined_anywhere",
        ),
        ({"type": "request", "seq": 7, "command": "setBreakpoints", "arguments": {}}, "source"),
        (
            {"type": "request", "seq": 8, "command": "copyToGlobals", "arguments": {}},
            "srcVariableName",
        ),
        ({"type": "request", "seq": 9, "command": "stackTrace", "arguments": {}}, "threadId"),
        (
            {
                "type": "request",
                "seq": 10,
                "command": "source",
                "arguments": {"source": {"path": "/no/such/cell.py"}},
            },
            "/no/such/cell.py",
        ),
    ],
)
def test_bad_requests_get_dap_errors(
    kernel: KernelHarness, content: dict[str, Any], message: str
) -> None:
    response = DebugSession(kernel).send(content)
    assert response["type"] == "response"
    assert response["success"] is False
    assert response["request_seq"] == content["seq"]
    assert message in response["message"]
    # The control channel and the kernel carry on.
    reply, _ = kernel.execute("1 + 1")
    assert reply["content"]["status"] == "ok"


def test_arguments_may_be_null_or_left_out(kernel: KernelHarness) -> None:
    debugger = DebugSession(kernel)
    for content in (
        {"type": "request", "seq": 1, "command": "debugInfo", "arguments": None},
        {"type": "request", "seq": 2, "command": "debugInfo"},
    ):
        response = debugger.send(content)
        assert response["success"] is True
        assert response["request_seq"] == content["seq"]


def test_requests_for_debugpy_before_start_are_errors(kernel: KernelHarness) -> None:
    debugger = DebugSession(kernel)
    if debugger.ok("debugInfo")["isStarted"]:
        pytest.skip("another test of this module started the debugger")
    for command in ("threads", "continue", "configurationDone"):
        response = debugger.request(command, {"threadId": 1})
        assert response["success"] is False
        assert "not started" in response["message"]


def test_malformed_arguments_for_debugpy_are_errors(session: DebugSession) -> None:
    response = session.request("scopes", {"frameId": 987654})
    assert response["success"] is False
    assert response["message"]
    response = session.request("variables", {"variablesReference": "nope"})
    assert response["success"] is False
    assert session.ok("threads")["threads"]
