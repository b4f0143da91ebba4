"""The README's main job: the quick-start notebook runs through the kernel on both backends."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_quickstart_notebook_runs_and_shows_its_outputs(backend: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "run_notebook.py"),
            str(ROOT / "examples" / "quickstart.ipynb"),
            "--backend",
            backend,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "Hello from async-kernel!" in out
    assert "Out[1]: 42" in out
    assert "21.5 °C" in out
    assert "step 3 of 3" in out
    assert "['fast after 0.1s', 'slow after 0.2s']" in out
    assert "task cell finished; in the main thread: True" in out
    assert "thread cell finished; in the main thread: False" in out
    assert "499999500000" in out
    assert "hello from the shell" in out
    assert f"ran without errors on {backend}" in out
