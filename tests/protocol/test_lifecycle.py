"""SIGINT, the heartbeat under a GIL-holding cell, shutdown and restart, over the real wire."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import zmq
from jupyter_client.provisioning.local_provisioner import LocalProvisioner

from tests.kernel_fixtures import TIMEOUT, running_kernel, stdout_of
from tests.protocol.conftest import BACKENDS

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator

    from tests.kernel_fixtures import KernelHarness

BUSY_CELLS = {
    "blocking": "import time\ntime.sleep(300)",
    "pure-python-loop": "n = 0\nwhile n < 10**10:\n    n += 1",
    "awaiting": "import anyio\nawait anyio.sleep(300)",
}
"""Cells that run until interrupted; the loop's bound only keeps a broken test finite."""


def kernel_process(kernel: KernelHarness) -> subprocess.Popen[bytes]:
    """The kernel's OS process (jupyter_client's local provisioner holds it)."""
    provisioner = kernel.manager.provisioner
    assert isinstance(provisioner, LocalProvisioner)
    assert provisioner.process is not None
    return provisioner.process


def process_gone(pid: int) -> bool:
    """Whether ``pid`` no longer runs (gone, or a zombie nobody has reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.fixture(params=BACKENDS)
def signal_kernel(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KernelHarness]:
    """A kernel whose spec says ``interrupt_mode: signal``.

    Our shipped spec uses ``message`` (the kernel picks which cells to stop, and it works
    where signals cannot be sent: remote kernels, gateways). With ``signal``,
    jupyter_client's ``interrupt_kernel`` sends SIGINT to the kernel's process group, as a
    terminal's Ctrl-C does: this is the signal path, tested through the client that uses it.
    """
    with running_kernel(tmp_path, request.param, interrupt_mode="signal") as harness:
        yield harness


@pytest.mark.parametrize("cell", list(BUSY_CELLS))
def test_sigint_stops_a_busy_cell_and_the_next_cell_runs(
    signal_kernel: KernelHarness, cell: str
) -> None:
    kernel = signal_kernel
    msg_id = kernel.client.execute(BUSY_CELLS[cell])
    kernel.iopub_for_started(msg_id)
    kernel.manager.interrupt_kernel()
    assert_interrupted_and_serving(kernel, msg_id)


def assert_interrupted_and_serving(kernel: KernelHarness, msg_id: str) -> None:
    """The cell ended with KeyboardInterrupt, and the next cell runs."""
    reply = kernel.reply_for(msg_id)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    after, messages = kernel.execute("print('after the signal')")
    assert after["content"]["status"] == "ok"
    assert stdout_of(messages) == "after the signal\n"


SIGINT_HELD_BACK = """\
import _thread, signal, threading, time
ready = threading.Event()
def spare():  # started without the kernel's thread set-up, so SIGINT is not blocked here
    ready.set()
    time.sleep(60)
_thread.start_new_thread(spare, ())
ready.wait()
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
try:
    print("sleeping", flush=True)
    time.sleep(60)
finally:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
"""
"""A cell whose sleep a SIGINT cannot break: the signal lands in another thread.

Python then has the SIGINT handler pending, but the main thread's sleep goes on, as when a
SIGINT lands just before a cell enters ``time.sleep``. The kernel must still stop the cell.
"""


def test_sigint_that_does_not_break_the_sleep_still_stops_the_cell(
    signal_kernel: KernelHarness,
) -> None:
    kernel = signal_kernel
    msg_id = kernel.client.execute(SIGINT_HELD_BACK)
    assert kernel.next_iopub_of_type("stream")["content"]["text"] == "sleeping\n"
    kernel.manager.interrupt_kernel()
    assert_interrupted_and_serving(kernel, msg_id)


def test_sigint_while_idle_leaves_the_kernel_serving(signal_kernel: KernelHarness) -> None:
    kernel = signal_kernel
    kernel.manager.interrupt_kernel()
    reply, messages = kernel.execute("print('still serving')")
    assert reply["content"]["status"] == "ok"
    assert stdout_of(messages) == "still serving\n"


def test_heartbeat_answers_while_a_cell_holds_the_gil(fresh_kernel: KernelHarness) -> None:
    kernel = fresh_kernel
    msg_id = kernel.client.execute(BUSY_CELLS["pure-python-loop"])
    kernel.iopub_for_started(msg_id)
    info = kernel.manager.get_connection_info()
    context = zmq.Context()
    try:
        ping = context.socket(zmq.REQ)
        ping.linger = 0
        ping.connect(f"tcp://{info.get('ip')}:{info.get('hb_port')}")
        for number in range(3):
            payload = f"ping {number}".encode()
            ping.send(payload)
            assert ping.poll(TIMEOUT * 1000), "no heartbeat echo while the cell loops"
            assert ping.recv() == payload
    finally:
        context.destroy(linger=0)
    # The cell was still looping after the echoes: only the interrupt ends it.
    kernel.reply_for(kernel.send("control", "interrupt_request", {}), "control")
    assert kernel.reply_for(msg_id)["content"]["ename"] == "KeyboardInterrupt"


@pytest.mark.callable_interface
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("restart", [False, True])
def test_shutdown_replies_then_exits_0_leaving_no_child(
    tmp_path: Path, backend: str, restart: bool
) -> None:
    with running_kernel(tmp_path, backend) as kernel:
        process = kernel_process(kernel)
        reply, messages = kernel.execute(
            "import subprocess, sys\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
            "grandchild_shell = subprocess.Popen('sleep 300 & echo $!', shell=True,"
            " stdout=subprocess.PIPE, text=True)\n"
            "print(child.pid, grandchild_shell.stdout.readline().strip())"
        )
        assert reply["content"]["status"] == "ok"
        pids = [int(pid) for pid in stdout_of(messages).split()]
        msg_id = kernel.send("control", "shutdown_request", {"restart": restart})
        shutdown = kernel.reply_for(msg_id, "control")
        assert shutdown["content"] == {"status": "ok", "restart": restart}
        assert process.wait(timeout=TIMEOUT) == 0
        assert all(process_gone(pid) for pid in pids), pids


@pytest.mark.parametrize("backend", BACKENDS)
def test_restart_through_the_kernel_manager(tmp_path: Path, backend: str) -> None:
    with running_kernel(tmp_path, backend) as kernel:
        old_process = kernel_process(kernel)
        kernel.execute("before_restart = 1")
        kernel.manager.restart_kernel(now=False)
        assert old_process.wait(timeout=TIMEOUT) == 0
        assert kernel_process(kernel).pid != old_process.pid
        kernel.client.wait_for_ready(timeout=TIMEOUT)
        reply, messages = kernel.execute("print('before_restart' in globals())")
        assert reply["content"]["status"] == "ok"
        assert stdout_of(messages) == "False\n"


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_cell_reaches_the_history_database_by_shutdown(tmp_path: Path, backend: str) -> None:
    """The saving thread gathers cells before it commits; shutting down writes the rest."""
    with running_kernel(tmp_path, backend) as kernel:
        reply, messages = kernel.execute(
            "hm = get_ipython().history_manager\nprint(hm.hist_file, hm.session_number)"
        )
        assert reply["content"]["status"] == "ok"
        hist_file, session = stdout_of(messages).split()
        cells = [f"burst_{n} = {n}" for n in range(20)]
        for code in cells:
            assert kernel.execute(code)[0]["content"]["status"] == "ok"
        process = kernel_process(kernel)
        kernel.reply_for(kernel.send("control", "shutdown_request", {"restart": False}), "control")
        assert process.wait(timeout=TIMEOUT) == 0
    with contextlib.closing(sqlite3.connect(hist_file)) as database:
        stored = [
            row[0]
            for row in database.execute(
                "SELECT source_raw FROM history WHERE session = ? ORDER BY line", (int(session),)
            )
        ]
    assert stored[-len(cells) :] == cells
