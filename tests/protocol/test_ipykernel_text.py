"""Text that tools compare comes out as ipykernel writes it.

Where ipykernel is installed (the bench group), the same cells run on it and on ours and the
tracebacks and messages are compared, colour codes aside.
"""

from __future__ import annotations

import re
import signal
import sys
from typing import TYPE_CHECKING, Any

import pytest

from tests.kernel_fixtures import TIMEOUT, outputs, running_kernel
from tests.protocol.conftest import BACKENDS
from tests.protocol.test_lifecycle import kernel_process

if TYPE_CHECKING:
    from pathlib import Path

    from tests.kernel_fixtures import KernelHarness

CELL_NAME = "<IPY-INPUT>"
"""What nbclient's and nbval's test set-ups put in IPYKERNEL_CELL_NAME."""

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def plain(traceback: list[str]) -> list[str]:
    """A traceback without colour codes (the themes of the two kernels differ)."""
    return [_ANSI.sub("", line) for line in traceback]


STARTED = "import time; print('started', flush=True); "
"""Starts a cell that is interrupted: the test waits for its output, so the interrupt meets
the line's last call (ipykernel turns an interrupt that comes before the code runs into a log
line, and the cell then runs on)."""


SELF_INTERRUPT = "import os, signal, time; os.kill(os.getpid(), signal.SIGINT); time.sleep(60)"


def interrupted_error(kernel: KernelHarness, code: str) -> dict[str, Any]:
    """The error a cell running ``code`` (which starts with STARTED) reports when interrupted."""
    msg_id = kernel.client.execute(code)
    kernel.wait_for_output(msg_id, "started")
    kernel.reply_for(kernel.send("control", "interrupt_request", {}), "control")
    (error,) = outputs(kernel.iopub_for(msg_id), "error")
    return error


def observed_text(kernel: KernelHarness) -> dict[str, Any]:
    """What a few cells show: an error's traceback, an interrupt's, input without stdin."""
    kernel.execute("def fails():\n    return 1 / 0")
    _, messages = kernel.execute("x = 1\nfails()")
    (division,) = outputs(messages, "error")
    # Interrupted by its own SIGINT: where it lands is then the same for both kernels (an
    # interrupt from outside may meet ipykernel inside its own output flushing).
    _, messages = kernel.execute(SELF_INTERRUPT)
    (interrupted,) = outputs(messages, "error")
    no_stdin, _ = kernel.execute("input('?')", allow_stdin=False)
    return {
        "division": plain(division["traceback"]),
        "interrupted": (interrupted["ename"], plain(interrupted["traceback"])),
        "stdin": (no_stdin["content"]["ename"], no_stdin["content"]["evalue"]),
    }


def reference_text(folder: Path) -> dict[str, Any]:
    """The same, from ipykernel."""
    pytest.importorskip("ipykernel")
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    with running_kernel(folder, argv=argv, env={"IPYKERNEL_CELL_NAME": CELL_NAME}) as kernel:
        return observed_text(kernel)


@pytest.fixture(scope="module")
def ipykernel_text(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What ipykernel shows for the cells of :func:`observed_text` (once per module)."""
    return reference_text(tmp_path_factory.mktemp("ipykernel"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_tracebacks_and_messages_match_ipykernel(
    tmp_path: Path, backend: str, ipykernel_text: dict[str, Any]
) -> None:
    """Errors, interrupted cells and input() without stdin read as in ipykernel."""
    with running_kernel(tmp_path, backend, env={"IPYKERNEL_CELL_NAME": CELL_NAME}) as kernel:
        ours = observed_text(kernel)
    assert ours == ipykernel_text
    assert ours["stdin"] == (
        "StdinNotImplementedError",
        "raw_input was called, but this frontend does not support input requests.",
    )
    assert ours["interrupted"][1][-1] == "KeyboardInterrupt: "


@pytest.mark.parametrize("backend", BACKENDS)
def test_cell_name_from_the_environment(tmp_path: Path, backend: str) -> None:
    """IPYKERNEL_CELL_NAME names every cell's code, as ipykernel does."""
    with running_kernel(tmp_path, backend, env={"IPYKERNEL_CELL_NAME": CELL_NAME}) as kernel:
        _, messages = kernel.execute("import sys\nprint(sys._getframe().f_code.co_filename)")
    assert [m["content"]["text"] for m in messages if m["msg_type"] == "stream"] == [
        f"{CELL_NAME}\n"
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_interrupted_awaiting_cell_is_formatted_by_ipython(tmp_path: Path, backend: str) -> None:
    """An awaiting cell that is interrupted reports an IPython-formatted KeyboardInterrupt."""
    with running_kernel(tmp_path, backend) as kernel:
        error = interrupted_error(kernel, STARTED + "import anyio; await anyio.sleep(60)")
    lines = plain(error["traceback"])
    assert error["ename"] == "KeyboardInterrupt"
    assert lines[0] == "-" * 75
    assert lines[1].startswith("KeyboardInterrupt ")
    assert lines[1].endswith("Traceback (most recent call last)")
    assert lines[-1] == "KeyboardInterrupt: "


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigterm_ends_the_kernel_and_says_so_in_the_cell(tmp_path: Path, backend: str) -> None:
    """SIGTERM during a cell: its error says the kernel is terminating, and the kernel exits 0."""
    with running_kernel(tmp_path, backend) as kernel:
        msg_id = kernel.client.execute("import time\ntime.sleep(60)")
        kernel.iopub_for_started(msg_id)
        process = kernel_process(kernel)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=TIMEOUT) == 0
        errors = [
            msg["content"]
            for msg in _drain_iopub(kernel)
            if msg["msg_type"] == "error" and msg["parent_header"].get("msg_id") == msg_id
        ]
    assert [(e["ename"], e["evalue"]) for e in errors] == [
        ("KeyboardInterrupt", "the kernel is terminating")
    ]
    assert plain(errors[0]["traceback"])[-1] == "KeyboardInterrupt: the kernel is terminating"


def _drain_iopub(kernel: KernelHarness) -> list[dict[str, Any]]:
    """Every iopub message the client has, read or not (the kernel has exited)."""
    messages = [m for queue in kernel._unclaimed.values() for m in queue]
    while kernel.client.iopub_channel.msg_ready():
        messages.append(kernel.client.get_iopub_msg(timeout=TIMEOUT))
    return messages
