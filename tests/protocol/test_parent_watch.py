"""A kernel ends itself when the client process that started it dies without shutting it down.

The client here is a process of its own: it starts a kernel with jupyter_client (which sets
``JPY_PARENT_PID``), runs a cell, prints the kernel's pid and exits at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING

import pytest

from async_kernel.runtime._parent_watch import PARENT_ENV, ancestors, watched_parent
from tests.kernel_fixtures import TIMEOUT, write_spec

if TYPE_CHECKING:
    from pathlib import Path

CLIENT = textwrap.dedent(
    """
    import os, subprocess, sys
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    manager = KernelManager(
        kernel_name="test", kernel_spec_manager=KernelSpecManager(kernel_dirs=[sys.argv[1]])
    )
    # Its own output files: the test's pipes must close when this process exits.
    manager.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    msg_id = client.execute(sys.argv[2])
    while True:  # the cell has started
        msg = client.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
            break
    print(manager.provisioner.process.pid, flush=True)
    os._exit(0)  # no shutdown_request, no stop_channels: as if the client were killed
    """
)


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie nobody has reaped yet counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
    except FileNotFoundError:
        return False
    return data[data.rfind(b")") + 2 : data.rfind(b")") + 3] != b"Z"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads process states from /proc")
@pytest.mark.parametrize("cell", ["1 + 1", "import time\ntime.sleep(600)"], ids=["idle", "busy"])
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_kernel_ends_when_its_client_dies(tmp_path: Path, backend: str, cell: str) -> None:
    specs = write_spec(tmp_path, backend)
    client = subprocess.run(
        [sys.executable, "-c", CLIENT, specs.kernel_dirs[0], cell],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert client.returncode == 0, client.stderr
    kernel_pid = int(client.stdout.split()[-1])
    deadline = time.monotonic() + TIMEOUT
    while running(kernel_pid):
        if time.monotonic() > deadline:
            os.kill(kernel_pid, 9)
            pytest.fail(f"kernel {kernel_pid} outlived its client by {TIMEOUT} s")
        time.sleep(0.05)


ZMQ_CLIENT = textwrap.dedent(
    """
    import os, anyio
    from async_kernel.messaging.zmq import ZMQClient

    async def main():
        async with ZMQClient.subprocess_kernel(name="test") as client:
            await client.kernel_info()
            print(client._process.pid, flush=True)
            os._exit(0)

    anyio.run(main)
    """
)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads process states from /proc")
def test_kernel_of_a_zmq_client_ends_when_the_client_dies(tmp_path: Path) -> None:
    """Our own client names itself in JPY_PARENT_PID, as jupyter_client does."""
    write_spec(tmp_path, "asyncio")
    client = subprocess.run(
        [sys.executable, "-c", ZMQ_CLIENT],
        capture_output=False,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the kernel shares it: the pipe would stay open
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "JUPYTER_PATH": str(tmp_path)},
    )
    assert client.returncode == 0
    kernel_pid = int(client.stdout.split()[-1])
    deadline = time.monotonic() + TIMEOUT
    while running(kernel_pid):
        if time.monotonic() > deadline:
            os.kill(kernel_pid, 9)
            pytest.fail(f"kernel {kernel_pid} outlived its client by {TIMEOUT} s")
        time.sleep(0.05)


def test_only_an_ancestor_is_watched() -> None:
    """A JPY_PARENT_PID inherited from elsewhere names a process the kernel does not belong to."""
    assert watched_parent({PARENT_ENV: str(os.getppid())}) == os.getppid()
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as unrelated:
        try:
            assert unrelated.pid not in ancestors()
            assert watched_parent({PARENT_ENV: str(unrelated.pid)}) is None
        finally:
            unrelated.kill()
    assert watched_parent({PARENT_ENV: "1"}) is None
    assert watched_parent({PARENT_ENV: "not a pid"}) is None
    assert watched_parent({}) is None
