"""Benchmark async-kernel against ipykernel on the same messages in one run.

Run: ``uv run --group bench python -m benchmarks.kernel [--quick] [--backend asyncio]``.
Writes ``benchmarks/results/kernel.json`` and ``kernel.md`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import traceback
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _measures
from ._kernels import ASYNC_KERNEL, KERNELS, RunningKernel, start, write_specs
from ._report import METRIC_KEYS, markdown

if TYPE_CHECKING:
    from collections.abc import Callable

RESULTS = Path(__file__).resolve().parent.parent / "results"

PHASES = ("execute", "pipelined", "stream", "kernel_info", "interrupt", "comm", "subshell")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def measure(
    kernel: RunningKernel, sizes: _measures.Sizes, backend: str, phases: set[str]
) -> dict[str, Any]:
    """Run every selected measurement on one kernel; a failing one records None and a note."""
    values: dict[str, Any] = dict.fromkeys(METRIC_KEYS)
    values["startup_s"] = kernel.startup_s
    values["rss_start_mb"] = kernel.rss_mb()
    features = _measures.kernel_features(kernel, sizes.timeout)
    steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("execute", lambda: _measures.execute_latency(kernel, sizes)),
        ("pipelined", lambda: _measures.pipelined(kernel, sizes)),
        ("stream", lambda: _measures.stream(kernel, sizes)),
        ("kernel_info", lambda: _measures.kernel_info_while_busy(kernel, sizes, backend)),
        ("interrupt", lambda: _measures.interrupts(kernel, sizes, backend)),
        ("comm", lambda: _measures.comm_echo(kernel, sizes)),
        ("subshell", lambda: _measures.subshells(kernel, sizes, features)),
    ]
    for phase, step in steps:
        if phase not in phases:
            continue
        print(f"  {kernel.name}: {phase}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            values.update(step())
        except Exception as exc:  # noqa: BLE001 - one failed measurement must not end the run
            kernel.notes.append(f"{phase}: failed: {exc!r}")
            traceback.print_exc()
            kernel.client.drain(0.5)
        print(f"    {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
        if phase == "pipelined":
            values["rss_after_executes_mb"] = kernel.rss_mb()
    if values["rss_after_executes_mb"] is None:
        values["rss_after_executes_mb"] = kernel.rss_mb()
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kernel", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke test")
    parser.add_argument("--backend", default="asyncio", help="async-kernel's backend")
    parser.add_argument(
        "--kernels", default=",".join(KERNELS), help="comma-separated subset of " + str(KERNELS)
    )
    parser.add_argument(
        "--only", default=",".join(PHASES), help="comma-separated subset of " + str(PHASES)
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="folder for the reports")
    args = parser.parse_args(argv)
    sizes = _measures.QUICK if args.quick else _measures.Sizes()
    names = [name for name in args.kernels.split(",") if name]
    phases = set(args.only.split(","))
    results: dict[str, Any] = {
        "meta": {
            "mode": "quick" if args.quick else "full",
            "backend": args.backend,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "async_kernel_version": _version("async-kernel"),
            "ipykernel_version": _version("ipykernel"),
            "executes_before_rss": sizes.warmup + sizes.latency_samples + sizes.pipelined,
            "sizes": vars(sizes),
            "metrics": list(METRIC_KEYS),
        },
        "kernels": {},
        "notes": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-kernel-") as folder:
        specs = write_specs(Path(folder), args.backend)
        for name in KERNELS:
            if name not in names:
                results["kernels"][name] = dict.fromkeys(METRIC_KEYS)
                results["notes"][name] = ["not run (--kernels)"]
                continue
            print(f"starting {name}", file=sys.stderr, flush=True)
            kernel = start(name, Path(folder), specs)
            try:
                results["kernels"][name] = measure(kernel, sizes, args.backend, phases)
            finally:
                kernel.stop()
            results["notes"][name] = kernel.notes
    output: Path = args.output
    output.mkdir(parents=True, exist_ok=True)
    (output / "kernel.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (output / "kernel.md").write_text(table)
    print(table)
    return 0 if ASYNC_KERNEL in results["kernels"] else 1


if __name__ == "__main__":
    sys.exit(main())
