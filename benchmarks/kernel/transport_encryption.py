"""What CurveZMQ transport encryption costs async-kernel: execute round trips and stream output.

Run: ``uv run python -m benchmarks.kernel.transport_encryption [--quick] [--backend trio]``.
Starts the kernel twice through jupyter_client, with ``transport_encryption`` "disabled" and
"required" (the spec declares ``supported_encryption``), and prints one table. The figures in
docs/cluster.md come from this script.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from . import _measures
from ._client import WireClient
from ._kernels import RunningKernel, kernel_argv

POLICIES = ("disabled", "required")


def _start(folder: Path, backend: str, policy: str) -> RunningKernel:
    spec_dir = folder / "kernels" / "curve"
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": kernel_argv("async-kernel", backend),
        "display_name": "curve",
        "language": "python",
        "interrupt_mode": "message",
        "metadata": {"supported_encryption": ["curve"]},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(folder / "kernels")])
    manager = KernelManager(
        kernel_name="curve", kernel_spec_manager=specs, transport_encryption=policy
    )
    env = dict(os.environ, IPYTHONDIR=str(folder / "ipython"), PYTHONUNBUFFERED="1")
    started = time.perf_counter()
    manager.start_kernel(env=env)
    client = WireClient(manager.get_connection_info())
    msg_id = client.send("shell", "kernel_info_request", {})
    reply = client.reply("shell", msg_id, 60)
    if reply is None:
        client.close()
        manager.shutdown_kernel(now=True)
        raise TimeoutError(f"no kernel_info_reply with transport_encryption={policy}")
    client.drain(0.5)
    pid = int(getattr(manager.provisioner, "pid", 0) or 0)
    return RunningKernel(policy, manager, client, reply.time - started, pid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kernel.transport_encryption")
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke test")
    parser.add_argument("--backend", default="asyncio")
    args = parser.parse_args(argv)
    sizes = _measures.QUICK if args.quick else _measures.Sizes()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for policy in POLICIES:
            kernel = _start(Path(folder) / policy, args.backend, policy)
            try:
                values = _measures.execute_latency(kernel, sizes)
                values.update(_measures.stream(kernel, sizes))
            finally:
                kernel.stop()
            results[policy] = values
    keys = ("execute_p50_ms", "execute_p99_ms", "stream_lines_per_s", "stream_mb_per_s")
    print(f"backend {args.backend}, {sys.platform}")
    print(f"| metric | {' | '.join(POLICIES)} | ratio |")
    print("|---|---|---|---|")
    for key in keys:
        plain, encrypted = (results[policy][key] for policy in POLICIES)
        print(f"| {key} | {plain:.3g} | {encrypted:.3g} | {encrypted / plain:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
