"""Starting the kernels under test: kernel specs in a temporary folder, memory, profiling.

Both kernels are started by jupyter_client's ``KernelManager`` from specs written into a
temporary folder, each with its own temporary IPython directory, so nothing of the user's
configuration leaks in. Two environment variables let a run profile async-kernel:

- ``BENCH_KERNEL_PROFILE=DIR`` attaches ``py-spy record`` (on PATH, e.g. through
  ``uv run --with py-spy``) to the async-kernel process for the whole run and writes
  collapsed stacks of every thread to ``DIR/async-kernel.pyspy.txt``;
- ``BENCH_KERNEL_WRAP="-m pyinstrument -o FILE"`` puts those arguments between the Python
  executable and ``-m async_kernel`` in the kernel's command line.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from ._client import WireClient

ASYNC_KERNEL = "async-kernel"
IPYKERNEL = "ipykernel"
KERNELS = (ASYNC_KERNEL, IPYKERNEL)


def kernel_argv(name: str, backend: str) -> list[str]:
    """The command line of the kernel ``name``."""
    if name == IPYKERNEL:
        return [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    wrap = shlex.split(os.environ.get("BENCH_KERNEL_WRAP", ""))
    argv = [sys.executable, *wrap, "-m", "async_kernel", "-f", "{connection_file}"]
    if backend != "asyncio":
        argv += ["--backend", backend]
    return argv


def write_specs(folder: Path, backend: str) -> KernelSpecManager:
    """Write one spec per kernel under ``folder/kernels``."""
    for name in KERNELS:
        spec_dir = folder / "kernels" / name
        spec_dir.mkdir(parents=True, exist_ok=True)
        spec: dict[str, Any] = {
            "argv": kernel_argv(name, backend),
            "display_name": name,
            "language": "python",
        }
        # async-kernel interrupts by message, as its own installed spec says; ipykernel's
        # default spec has no interrupt_mode, which means signal.
        if name == ASYNC_KERNEL:
            spec["interrupt_mode"] = "message"
        (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(folder / "kernels")])


def rss_mb(pid: int) -> float | None:
    """Resident memory of process ``pid`` in MiB (psutil, else /proc), or None."""
    try:
        import psutil
    except ImportError:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None
    try:
        return psutil.Process(pid).memory_info().rss / (1024 * 1024)
    except psutil.Error:
        return None


@dataclass
class RunningKernel:
    """A kernel process, its manager and a wire client connected to it."""

    name: str
    manager: KernelManager
    client: WireClient
    startup_s: float
    pid: int
    profiler: subprocess.Popen[bytes] | None = None
    notes: list[str] = field(default_factory=list)

    def interrupt(self) -> None:
        """Interrupt the way the kernel's spec asks (message on control, or SIGINT)."""
        self.manager.interrupt_kernel()

    def rss_mb(self) -> float | None:
        return rss_mb(self.pid)

    def stop(self) -> None:
        if self.profiler is not None:
            self.profiler.send_signal(signal.SIGINT)
            try:
                self.profiler.wait(30)
            except subprocess.TimeoutExpired:
                self.profiler.kill()
        self.client.close()
        try:
            self.manager.shutdown_kernel(now=False)
        except Exception:  # noqa: BLE001 - a kernel that will not stop is killed
            self.manager.shutdown_kernel(now=True)


def _pid_of(manager: KernelManager) -> int:
    provisioner: Any = manager.provisioner
    pid = getattr(provisioner, "pid", None) or provisioner.process.pid
    return int(pid)


def start(name: str, folder: Path, specs: KernelSpecManager, timeout: float = 60) -> RunningKernel:
    """Start kernel ``name``; time from launch to the first kernel_info_reply.

    The request is sent right after the process is launched: ZeroMQ queues it until the
    kernel binds its shell socket, so the reply time is the kernel's start-up time.
    """
    env = dict(
        os.environ,
        IPYTHONDIR=str(folder / f"ipython-{name}"),
        PYTHONUNBUFFERED="1",
        JUPYTER_PLATFORM_DIRS="1",
    )
    manager = KernelManager(kernel_name=name, kernel_spec_manager=specs)
    manager.cache_ports = False
    started = time.perf_counter()
    manager.start_kernel(env=env)
    client = WireClient(manager.get_connection_info())
    msg_id = client.send("shell", "kernel_info_request", {})
    reply = client.reply("shell", msg_id, timeout)
    if reply is None:
        client.close()
        manager.shutdown_kernel(now=True)
        raise TimeoutError(f"{name} sent no kernel_info_reply within {timeout} s of launch")
    startup = reply.time - started
    _wait_for_iopub(client, timeout)
    kernel = RunningKernel(name, manager, client, startup, _pid_of(manager))
    profile_dir = os.environ.get("BENCH_KERNEL_PROFILE")
    if profile_dir and name == ASYNC_KERNEL:
        kernel.profiler = _attach_py_spy(kernel.pid, Path(profile_dir))
    return kernel


def _wait_for_iopub(client: WireClient, timeout: float) -> None:
    """Send kernel_info until iopub delivers (a SUB socket misses what comes before it joins)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        client.send("shell", "kernel_info_request", {})
        if client.next("iopub", time.perf_counter() + 0.2) is not None:
            client.drain(0.2)
            return
    raise TimeoutError("iopub delivered nothing")


def _attach_py_spy(pid: int, folder: Path) -> subprocess.Popen[bytes]:
    executable = shutil.which("py-spy")
    if executable is None:
        raise RuntimeError("BENCH_KERNEL_PROFILE needs py-spy: run with `uv run --with py-spy`")
    folder.mkdir(parents=True, exist_ok=True)
    argv = [
        executable, "record", "--pid", str(pid), "--threads", "--rate", "500",
        "--format", "raw", "--output", str(folder / "async-kernel.pyspy.txt"),
    ]  # fmt: skip
    profiler = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)  # let py-spy attach before the measurements start
    return profiler
