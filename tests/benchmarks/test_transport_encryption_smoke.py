"""Smoke test of the transport encryption benchmark: quick mode runs and prints every row.

No timing is asserted: the figures in docs/cluster.md come from full runs of this benchmark.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(180)
def test_quick_run_compares_unencrypted_and_required() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.kernel.transport_encryption", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "| metric | disabled | required | ratio |" in result.stdout
    for row in ("execute_p50_ms", "stream_lines_per_s", "sockets alone: 1 MiB messages"):
        assert f"| {row}" in result.stdout, result.stdout
