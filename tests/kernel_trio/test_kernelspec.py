"""Installing a trio kernel spec with either command form, and starting a kernel from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from tests.kernel_fixtures import HEARTBEAT_CHANNEL, TIMEOUT, KernelHarness, outputs

if TYPE_CHECKING:
    from pathlib import Path

INSTALL = ["install", "--name", "async-trio", "--backend", "trio"]
SHORT_FORM = ["-a", "async-trio", "--interface.backend=trio"]


def run_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    """Run the `async-kernel` command (as `python -m async_kernel`) and check it succeeded."""
    return subprocess.run(
        [sys.executable, "-m", "async_kernel", *arguments],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )


def kernels_dir(prefix: Path) -> Path:
    return prefix / "share" / "jupyter" / "kernels"


def installed_spec(prefix: Path) -> dict[str, Any]:
    return json.loads((kernels_dir(prefix) / "async-trio" / "kernel.json").read_text())


@pytest.mark.parametrize(
    "arguments", [pytest.param(INSTALL, id="install"), pytest.param(SHORT_FORM, id="short-form")]
)
def test_install_writes_a_spec_that_runs_the_trio_backend(
    tmp_path: Path, arguments: list[str]
) -> None:
    run_cli(*arguments, "--prefix", str(tmp_path))
    argv = installed_spec(tmp_path)["argv"]
    assert argv[:3] == [sys.executable, "-m", "async_kernel"]
    assert "{connection_file}" in argv
    position = argv.index("--backend")
    assert argv[position + 1] == "trio"


def test_short_form_writes_the_same_spec_as_install(tmp_path: Path) -> None:
    run_cli(*INSTALL, "--prefix", str(tmp_path / "long"))
    run_cli(*SHORT_FORM, "--prefix", str(tmp_path / "short"))
    assert installed_spec(tmp_path / "long") == installed_spec(tmp_path / "short")


def test_jupyter_client_finds_the_installed_spec(tmp_path: Path) -> None:
    run_cli(*SHORT_FORM, "--prefix", str(tmp_path))
    manager = KernelSpecManager(kernel_dirs=[str(kernels_dir(tmp_path))])
    spec = manager.get_kernel_spec("async-trio")
    assert spec.argv == installed_spec(tmp_path)["argv"]
    assert spec.language == "python"


def test_a_kernel_started_from_the_installed_spec_runs_on_trio(tmp_path: Path) -> None:
    run_cli(*INSTALL, "--prefix", str(tmp_path))
    manager = KernelManager(
        kernel_name="async-trio",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels_dir(tmp_path))]),
    )
    manager.start_kernel(env=dict(os.environ, IPYTHONDIR=str(tmp_path / "ipython")))
    client = manager.client()
    client.start_channels(hb=HEARTBEAT_CHANNEL)
    try:
        client.wait_for_ready(timeout=TIMEOUT)
        kernel = KernelHarness(manager, client)
        reply, messages = kernel.execute("import sniffio; sniffio.current_async_library()")
        assert reply["content"]["status"] == "ok"
        (result,) = outputs(messages, "execute_result")
        assert result["data"]["text/plain"] == "'trio'"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=False)
    assert not manager.is_alive()
