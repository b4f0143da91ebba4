from __future__ import annotations

from typing import TYPE_CHECKING

from benchmarks.caller.run import main

if TYPE_CHECKING:
    from pathlib import Path


def test_quick_benchmark_runs(tmp_path: Path) -> None:
    """The benchmark's quick mode runs every method and writes its JSON report."""
    output = tmp_path / "caller.json"
    report = main(["--quick", "--output", str(output)])
    assert output.exists()
    methods = report["backends"]["asyncio"]["methods"]
    assert {"Caller.call_soon", "asyncio.run_coroutine_threadsafe"} <= set(methods)
    assert report["targets"][0]["backend"] == "asyncio"
    assert all(row["throughput_ratio"] > 0 for row in report["targets"])
