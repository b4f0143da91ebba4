"""Smoke test of the kernel benchmark: quick mode runs and reports every metric.

No timing is asserted: timings live in benchmarks/, not in tests.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.kernel._report import METRIC_KEYS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ipykernel") is None,
    reason="ipykernel is not installed: it is in the `bench` group (uv run --group bench pytest)",
)


@pytest.mark.timeout(240)
def test_quick_run_reports_every_metric_for_both_kernels(tmp_path: Path) -> None:
    """`python -m benchmarks.kernel --quick` writes JSON with every metric key per kernel."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.kernel", "--quick", "--output", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=230,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    data = json.loads((tmp_path / "kernel.json").read_text())
    assert data["meta"]["mode"] == "quick"
    for name in ("async-kernel", "ipykernel"):
        assert set(METRIC_KEYS) <= set(data["kernels"][name]), name
    # The throughput measurement checks completeness; it must have run on both kernels.
    assert all(data["kernels"][name]["stream_complete"] is not None for name in data["kernels"])
    table = (tmp_path / "kernel.md").read_text()
    assert "| metric | async-kernel | ipykernel | ratio | better |" in table
