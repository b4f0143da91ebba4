"""A scaled-down soak on both backends: nothing lost, no thread or file-descriptor leak.

RSS growth is only judged by the full soak (``python -m benchmarks.soak``): at this scale it
measures allocator noise. No timing is asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_scaled_down_soak_loses_and_leaks_nothing(tmp_path: Path, backend: str) -> None:
    result = subprocess.run(
        [
            sys.executable, "-m", "benchmarks.soak",
            "--backend", backend, "--scale", "0.02", "--output", str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=230,
        check=False,
    )  # fmt: skip
    report = json.loads((tmp_path / f"soak-{backend}.json").read_text())
    assert report["problems"] == [], result.stdout + result.stderr[-3000:]
    assert result.returncode == 0
    assert report["scale"]["executes"] == 200
    assert report["threads"]["after"] == report["threads"]["before"]
    assert report["fds"]["after"] <= report["fds"]["before"]
