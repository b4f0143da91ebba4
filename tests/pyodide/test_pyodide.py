"""async-kernel in real Pyodide under Node: the callable interface, as JupyterLite uses it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("run_pyodide_checks.py")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (apt nodejs npm)")
@pytest.mark.timeout(600)
def test_kernel_runs_in_pyodide_through_the_callable_interface() -> None:
    """kernel_info, await, display, comms, complete, history, input and interrupts in Pyodide."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, check=False, timeout=590
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "Pyodide kernel checks passed" in output, output[-5000:]
