"""The traceback warm-up: it loads the formatter and parses no kernel source file."""

from __future__ import annotations

import json
import subprocess
import sys

# Run in a fresh interpreter: other tests in this process may have formatted tracebacks.
PROBE = """
import json, linecache, sys
from async_kernel.shell._warm_up import warm_up_tracebacks
before = set(sys.modules)
warm_up_tracebacks("linux")
print(json.dumps({
    "imported": sorted(set(sys.modules) - before),
    "sources": [name for name in linecache.cache if "async_kernel" in name or "<" in name],
}))
"""


def test_warm_up_loads_the_formatter_from_its_own_snippet() -> None:
    """stack_data and pygments' formatter get loaded; no kernel module's source is parsed.

    stack_data keeps the parsed source of every file it shows for the life of the process:
    formatting a frame of a kernel module held 2 MiB, a one-line snippet almost nothing.
    """
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    report = json.loads(result.stdout.splitlines()[-1])
    assert {"stack_data", "executing", "pygments.formatters.terminal256"} <= set(report["imported"])
    assert report["sources"] == []
