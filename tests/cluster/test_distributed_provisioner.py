"""async-kernel under Gateway Provisioners' real DistributedProvisioner, through our launcher.

The provisioner runs the spec's command on localhost without SSH; jupyter_client's KernelManager
drives it as a Jupyter server would. The test runs the commands of docs/cluster.md: the
``async-kernel install --provisioner distributed`` line and ``docs/examples/cluster/distributed.py``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import sys
from pathlib import Path
from typing import Any

import gateway_provisioners.distributed
import pytest

from async_kernel.cli._main import main as cli_main
from tests.docs.test_docs_examples import EXPECTED
from tests.protocol.conftest import BACKENDS

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "cluster" / "distributed.py"
_PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")


def _example() -> Any:
    spec = importlib.util.spec_from_file_location("distributed_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _processes_mentioning(text: str) -> list[int]:
    """Processes whose command line holds ``text`` (the launcher and its listener)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.cluster
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("encryption", ["disabled", "required"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_distributed_provisioner_runs_the_kernel(
    tmp_path: Path,
    backend: str,
    encryption: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Execute, interrupt a blocking cell, restart and shut down; nothing is left running.

    With encryption "required" the provisioner also imposes a port range.
    """
    prefix = tmp_path / "prefix"
    arguments = ["install", "--provisioner", "distributed", "--prefix", str(prefix)]
    if backend != "asyncio":
        arguments += ["--backend", backend]
    assert cli_main(arguments) is None
    name = "async-distributed" if backend == "asyncio" else f"async-distributed-{backend}"
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    # The kernel's output goes to a log in this folder (read from GP_KERNEL_LOG_DIR at import).
    monkeypatch.setattr(gateway_provisioners.distributed, "kernel_log_dir", str(tmp_path))
    monkeypatch.delenv("JUPYTER_RUNTIME_DIR", raising=False)

    low = 20000 + (os.getpid() % 30) * 1000
    if (
        encryption == "required"
    ):  # and a port range (1000 wide at least), passed on by the provisioner
        monkeypatch.setenv("GP_PORT_RANGE", f"{low}..{low + 1000}")

    kernels = _example().run(name, encryption)

    output = capsys.readouterr().out
    for expected in EXPECTED["cluster/distributed.py"].output:  # what the docs page promises
        assert expected in output
    assert f"encrypted: {encryption == 'required'}" in output
    assert len(kernels) == 2
    for info in kernels:
        assert ("curve_publickey" in info) == (encryption == "required")
        if encryption == "required":
            for port_name in (*_PORTS, "comm_port"):
                assert low <= info[port_name] <= low + 1000, (port_name, info[port_name])
    log = "".join(path.read_text() for path in tmp_path.glob("kernel-*.log"))
    assert "Traceback" not in log, log
    for kernel_id in {info["kernel_id"] for info in kernels}:
        assert _processes_mentioning(kernel_id) == [], "a launcher or its listener is still running"
    for info in kernels:
        with contextlib.suppress(ProcessLookupError):
            os.kill(info["pid"], 0)
            pytest.fail(f"kernel process {info['pid']} is still running")
        for port_name in (*_PORTS, "comm_port"):
            assert not _accepts(info[port_name]), f"{port_name} {info[port_name]} still listens"
