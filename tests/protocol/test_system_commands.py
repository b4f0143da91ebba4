"""``!cmd``, ``%pip`` and ``%uv`` at a cell's top level stream and leave the loop running."""

from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING

import pytest

from tests.kernel_fixtures import outputs, stdout_of

if TYPE_CHECKING:
    from pathlib import Path

    from tests.kernel_fixtures import KernelHarness


def test_command_streams_while_other_cells_run(kernel: KernelHarness, tmp_path: Path) -> None:
    """The command's first line arrives while it runs, and a `# task` cell runs meanwhile.

    The command waits on a FIFO that only the task cell writes: were the loop blocked, the
    task cell could never run and the command never end.
    """
    fifo = tmp_path / "release"
    os.mkfifo(fifo)
    msg_id = kernel.client.execute(f"!echo waiting; cat {fifo}; echo done")
    kernel.wait_for_output(msg_id, "waiting")
    task, _ = kernel.execute(
        f"# task\nwith open({str(fifo)!r}, 'w') as f:\n    f.write('released\\n')"
    )
    assert task["content"]["status"] == "ok"
    reply = kernel.reply_for(msg_id)
    assert reply["content"]["status"] == "ok"
    assert stdout_of(kernel.iopub_for(msg_id)) == "waiting\nreleased\ndone\n"


def test_exit_code_and_stderr(kernel: KernelHarness) -> None:
    """`_exit_code` holds the status, and stderr goes to the stderr stream."""
    reply, messages = kernel.execute("!echo oops >&2; exit 3\nprint(_exit_code)")
    assert reply["content"]["status"] == "ok"
    assert stdout_of(messages) == "3\n"
    stderr = "".join(c["text"] for c in outputs(messages, "stream") if c["name"] == "stderr")
    assert stderr == "oops\n"


def test_interrupt_ends_the_command(fresh_kernel: KernelHarness) -> None:
    """An interrupt stops the cell and its command's process."""
    kernel = fresh_kernel
    msg_id = kernel.client.execute("!echo $$; exec sleep 60")
    kernel.wait_for_output(msg_id, "\n")
    kernel.reply_for(kernel.send("control", "interrupt_request", {}), "control")
    reply = kernel.reply_for(msg_id)
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    pid = int(stdout_of(kernel.iopub_for(msg_id)))
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_inside_a_function_it_blocks_but_works(kernel: KernelHarness) -> None:
    """`!cmd` inside a function is IPython's blocking form; its output still arrives."""
    reply, messages = kernel.execute("def run():\n    !echo inner\nrun()")
    assert reply["content"]["status"] == "ok"
    assert stdout_of(messages).replace("\r\n", "\n") == "inner\n"  # a pty: CRLF


def test_pip_and_uv_magics(kernel: KernelHarness) -> None:
    """%pip lists the kernel's environment (with uv pip where there is no pip); so does %uv."""
    reply, messages = kernel.execute("%pip list")
    assert reply["content"]["status"] == "ok", reply["content"]
    assert "anyio" in stdout_of(messages)
    if importlib.util.find_spec("pip") is None:
        reply, messages = kernel.execute("%uv pip show anyio")
        assert reply["content"]["status"] == "ok", reply["content"]
        assert "Name: anyio" in stdout_of(messages)
