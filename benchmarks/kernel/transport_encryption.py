"""What CurveZMQ transport encryption costs async-kernel: execute round trips and stream output.

Also measures the sockets alone (no kernel): a small message's round trip, and the rate of
1 MiB messages, which is where Curve's cost shows (large outputs: images, big tables).

Run: ``uv run python -m benchmarks.kernel.transport_encryption [--quick] [--backend trio]``.
Starts the kernel twice through jupyter_client, with ``transport_encryption`` "disabled" and
"required" (the spec declares ``supported_encryption``), and prints one table. The figures in
docs/cluster.md come from this script.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import zmq
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


def _raw(curve: bool, round_trips: int, bulk: int) -> tuple[float, float]:
    """A DEALER/ROUTER pair on loopback: median round trip (µs) of 200 bytes, MB/s of 1 MiB."""
    context = zmq.Context()
    server, client = context.socket(zmq.ROUTER), context.socket(zmq.DEALER)
    try:
        if curve:
            public, secret = zmq.curve_keypair()
            server.curve_server = True
            server.curve_secretkey = secret
            server.curve_publickey = public
            client.curve_publickey, client.curve_secretkey = zmq.curve_keypair()
            client.curve_serverkey = public
        port = server.bind_to_random_port("tcp://127.0.0.1")
        client.connect(f"tcp://127.0.0.1:{port}")
        samples = []
        for _ in range(round_trips):
            started = time.perf_counter()
            client.send(b"x" * 200)
            server.send_multipart(server.recv_multipart())
            client.recv()
            samples.append(time.perf_counter() - started)
        big = b"x" * (1 << 20)
        started = time.perf_counter()
        for _ in range(bulk):
            client.send(big)
            server.recv_multipart()
        rate = bulk * len(big) / (time.perf_counter() - started) / 1e6
        return statistics.median(samples[round_trips // 5 :]) * 1e6, rate
    finally:
        context.destroy(linger=0)


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
    round_trips, bulk = (200, 5) if args.quick else (3000, 50)
    (plain_us, plain_rate), (curve_us, curve_rate) = (
        _raw(curve, round_trips, bulk) for curve in (False, True)
    )
    print(
        f"| sockets alone: round_trip_us | {plain_us:.3g} | {curve_us:.3g} | "
        f"{curve_us / plain_us:.2f} |"
    )
    print(
        f"| sockets alone: 1 MiB messages, MB/s | {plain_rate:.3g} | {curve_rate:.3g} | "
        f"{curve_rate / plain_rate:.2f} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
