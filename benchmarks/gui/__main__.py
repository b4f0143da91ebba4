"""What running a GUI toolkit's events from the kernel's loop costs (async-kernel-gui's pump).

Run: ``uv run python -m benchmarks.gui`` (needs Xvfb; see tests/gui). For each backend and
toolkit (none, tk, qt) it reports the kernel's idle CPU use, how late a toolkit callback runs
after it was scheduled, and the execute round trip, with a window open.
"""

from __future__ import annotations

import ast
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.gui.display import virtual_display
from tests.kernel_fixtures import running_kernel

if TYPE_CHECKING:
    from tests.kernel_fixtures import KernelHarness

IDLE_SECONDS = 3.0
ROUND_TRIPS = 200
CALLBACKS = 100

OPEN = {
    "none": "import anyio\ndef schedule(callback):\n    callback()",
    "tk": "%gui tk\nimport anyio, tkinter\nroot = tkinter.Tk()\n"
    "def schedule(callback):\n    root.after(0, callback)",
    "qt": "%gui qt\nimport anyio\nfrom PySide6 import QtCore, QtWidgets\n"
    "window = QtWidgets.QWidget()\nwindow.show()\n"
    "def schedule(callback):\n    QtCore.QTimer.singleShot(0, callback)",
}

CALLBACK_DELAYS = f"""
import time
delays = []
for _ in range({CALLBACKS}):
    done = anyio.Event()
    scheduled = time.perf_counter()
    schedule(lambda: (delays.append(time.perf_counter() - scheduled), done.set()))
    await done.wait()
delays
"""


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(kernel: KernelHarness, code: str) -> dict[str, Any]:
    reply, messages = kernel.execute(code)
    assert reply["content"]["status"] == "ok", reply["content"]
    return {m["msg_type"]: m["content"] for m in messages}


def measure(kernel: KernelHarness, toolkit: str) -> dict[str, float]:
    run(kernel, OPEN[toolkit])
    pid = kernel.manager.provisioner.pid  # pyright: ignore[reportOptionalMemberAccess, reportAttributeAccessIssue]
    before = cpu_seconds(pid)
    time.sleep(IDLE_SECONDS)
    idle_cpu = (cpu_seconds(pid) - before) / IDLE_SECONDS
    delays = ast.literal_eval(run(kernel, CALLBACK_DELAYS)["execute_result"]["data"]["text/plain"])
    trips = []
    for _ in range(ROUND_TRIPS):
        started = time.perf_counter()
        kernel.execute("pass")
        trips.append(time.perf_counter() - started)
    return {
        "idle_cpu_percent": 100 * idle_cpu,
        "callback_delay_ms_p50": 1000 * statistics.median(delays),
        "callback_delay_ms_max": 1000 * max(delays),
        "execute_ms_p50": 1000 * statistics.median(trips),
    }


def main() -> None:
    with virtual_display() as display, tempfile.TemporaryDirectory() as folder:
        print(
            "| backend | toolkit | idle CPU % | callback delay p50 / max (ms) | execute p50 (ms) |"
        )
        print("|---|---|---|---|---|")
        for backend in ("asyncio", "trio"):
            for toolkit in ("none", "tk", "qt"):
                env = {"DISPLAY": display, "QT_API": "pyside6"}
                place = Path(folder) / f"{backend}-{toolkit}"
                with running_kernel(place, backend, env=env) as kernel:
                    r = measure(kernel, toolkit)
                print(
                    f"| {backend} | {toolkit} | {r['idle_cpu_percent']:.1f} | "
                    f"{r['callback_delay_ms_p50']:.2f} / {r['callback_delay_ms_max']:.2f} | "
                    f"{r['execute_ms_p50']:.2f} |",
                    flush=True,
                )
    sys.exit(0)


if __name__ == "__main__":
    main()
