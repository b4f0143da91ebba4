"""A kernel that cannot start says why on its own stderr, the frontend's log of the kernel.

By the time the kernel binds its sockets, ``sys.stderr`` publishes on iopub; a traceback written
there died with the kernel, which then exited with status 1 and an empty log.
"""

from __future__ import annotations

import json
import os
import socket
from typing import TYPE_CHECKING

import pytest
from jupyter_client.manager import KernelManager

from tests.kernel.test_cli import run_module
from tests.kernel_fixtures import KernelHarness, ready_client, write_spec

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_taken_port_is_named_on_stderr(tmp_path: Path, backend: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        connection_file = tmp_path / "kernel.json"
        connection_file.write_text(
            json.dumps({"transport": "tcp", "ip": "127.0.0.1", "shell_port": port, "key": "k"})
        )
        result = run_module("-f", str(connection_file), "--backend", backend)
    assert result.returncode == 1
    assert f"shell_port {port} of the connection file is already in use" in result.stderr
    assert "PortInUseError" in result.stderr  # the traceback, not only the message


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_jupyter_client_restarts_it_on_new_ports(tmp_path: Path, backend: str) -> None:
    """What jupyter_client's restarter does for a kernel that died before it was alive."""
    specs = write_spec(tmp_path, backend)
    manager = KernelManager(kernel_name="test", kernel_spec_manager=specs)
    manager.cache_ports = False  # keep the port given below (the cache would pick its own)
    log_path = tmp_path / "kernel.log"
    with socket.socket() as taken, log_path.open("ab") as log_file:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        manager.shell_port = taken.getsockname()[1]
        env = dict(os.environ, IPYTHONDIR=str(tmp_path / "ipython"))
        manager.start_kernel(env=env, stdout=log_file, stderr=log_file)
        try:
            client = ready_client(manager, log_path)
            try:
                assert manager.shell_port != taken.getsockname()[1]
                reply, _ = KernelHarness(manager, client).execute("40 + 2")
                assert reply["content"]["status"] == "ok"
            finally:
                client.stop_channels()
        finally:
            manager.shutdown_kernel(now=True)
    assert log_path.read_text().count("PortInUseError") >= 1
