"""Faults a cell or a frontend can cause, and how the kernel recovers (docs/guarantees.md)."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

import pytest
from jupyter_client.blocking.client import BlockingKernelClient

from tests.kernel_fixtures import HEARTBEAT_CHANNEL, TIMEOUT, outputs, stdout_of
from tests.protocol.test_lifecycle import BUSY_CELLS, kernel_process

if TYPE_CHECKING:
    from tests.kernel_fixtures import KernelHarness


@pytest.mark.parametrize("name", ["stdout", "stderr"])
def test_closing_a_standard_stream_keeps_output_flowing(kernel: KernelHarness, name: str) -> None:
    reply, messages = kernel.execute(
        f"import sys\nsys.{name}.close()\n"
        f"sys.{name}.writelines(['after close\\n', f'closed: {{sys.{name}.closed}}\\n'])"
    )
    assert reply["content"]["status"] == "ok"
    texts = [c["text"] for c in outputs(messages, "stream") if c["name"] == name]
    assert "".join(texts) == "after close\nclosed: False\n"
    reply, messages = kernel.execute(f"import sys\nprint('next cell', file=sys.{name})")
    assert reply["content"]["status"] == "ok"
    texts = [c["text"] for c in outputs(messages, "stream") if c["name"] == name]
    assert "".join(texts) == "next cell\n"


@pytest.mark.parametrize(
    "replacement", ["lambda value: print('custom hook', value)", "None", "'not callable'"]
)
def test_replacing_sys_displayhook_does_not_break_later_results(
    kernel: KernelHarness, replacement: str
) -> None:
    reply, _ = kernel.execute(f"import sys\nsys.displayhook = {replacement}")
    assert reply["content"]["status"] == "ok"
    reply, messages = kernel.execute("6 * 7")
    assert reply["content"]["status"] == "ok"
    (result,) = outputs(messages, "execute_result")
    assert result["data"]["text/plain"] == "42"


def test_frontend_that_disappears_during_input_leaves_a_recoverable_kernel(
    fresh_kernel: KernelHarness,
) -> None:
    """The cell waits until an interrupt (from any client) ends it; the kernel serves on."""
    kernel = fresh_kernel
    # A client of its own session: jupyter_client routes stdin by the session's identity.
    vanishing = BlockingKernelClient()
    vanishing.load_connection_info(kernel.manager.get_connection_info())
    vanishing.start_channels(hb=HEARTBEAT_CHANNEL)
    try:
        msg_id = vanishing.execute("answer = input('still there? ')", allow_stdin=True)
        request = vanishing.get_stdin_msg(timeout=TIMEOUT)
        assert request["parent_header"]["msg_id"] == msg_id
    finally:
        vanishing.stop_channels()
    info = kernel.reply_for(kernel.send("shell", "kernel_info_request", {}))
    assert info["content"]["status"] == "ok"
    kernel.reply_for(kernel.send("control", "interrupt_request", {}), "control")
    # Its reply went to the vanished client; iopub, seen by every client, shows the end.
    (error,) = outputs(kernel.iopub_for(msg_id), "error")
    assert error["ename"] == "KeyboardInterrupt"
    reply, messages = kernel.execute("print('answer' in globals())")
    assert reply["content"]["status"] == "ok"
    assert stdout_of(messages) == "False\n"


@pytest.mark.parametrize("cell", [None, *BUSY_CELLS])
def test_sigterm_shuts_down_cleanly(fresh_kernel: KernelHarness, cell: str | None) -> None:
    kernel = fresh_kernel
    if cell is not None:
        kernel.iopub_for_started(kernel.client.execute(BUSY_CELLS[cell]))
    process = kernel_process(kernel)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=TIMEOUT) == 0


def test_forked_child_never_talks_on_the_kernels_sockets(kernel: KernelHarness) -> None:
    """The child's output and messages are not sent; a child that exits leaves no trace."""
    code = (
        "import os, sys\n"
        "from IPython.display import display\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    print('from the child'); sys.stdout.flush()\n"
        "    display('child display')\n"
        "    os._exit(0)\n"
        "print('from the parent')\n"
        "status = os.waitpid(pid, 0)[1]\n"
        "print(os.waitstatus_to_exitcode(status))"
    )
    reply, messages = kernel.execute(code)
    msg_id = reply["parent_header"]["msg_id"]
    assert reply["content"]["status"] == "ok"
    assert stdout_of(messages) == "from the parent\n0\n"
    assert outputs(messages, "display_data") == []
    after, _ = kernel.execute("1")
    assert after["content"]["status"] == "ok"
    assert kernel.unclaimed(msg_id) == []


def test_forked_child_that_returns_into_the_kernel_exits(kernel: KernelHarness) -> None:
    """A child that neither execs nor exits ends when it would reply, instead of lingering."""
    reply, messages = kernel.execute(
        "import os\nchild = os.fork()\nprint('forked' if child else 'in the child')"
    )
    msg_id = reply["parent_header"]["msg_id"]
    assert reply["content"]["status"] == "ok"
    assert stdout_of(messages) == "forked\n"
    # Blocks until the child is gone: a lingering child would time the test out.
    reply, messages = kernel.execute("print(os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]))")
    assert reply["content"]["status"] == "ok"
    assert stdout_of(messages) == "0\n"
    assert kernel.unclaimed(msg_id) == []
