"""``usage_request`` on control answers with ipykernel's fields (JupyterLab's usage panel)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from tests.protocol.test_lifecycle import kernel_process

if TYPE_CHECKING:
    from tests.kernel_fixtures import KernelHarness

FIELDS = {
    "hostname",
    "pid",
    "kernel_cpu",
    "kernel_memory",
    "cpu_count",
    "host_cpu_percent",
    "host_virtual_memory",
}


def test_usage_reply_has_ipykernels_fields(kernel: KernelHarness) -> None:
    """The reply names this kernel's process and measures it and the host."""
    for _ in range(2):  # the second request measures CPU since the first
        reply = kernel.reply_for(kernel.send("control", "usage_request", {}), "control")
        content = reply["content"]
        assert reply["msg_type"] == "usage_reply"
        assert set(content) >= FIELDS
        assert content["pid"] == kernel_process(kernel).pid
        assert content["hostname"] == socket.gethostname()
        assert content["kernel_memory"] > 0
        assert content["kernel_cpu"] >= 0
        assert content["cpu_count"] >= 1
        assert 0 <= content["host_cpu_percent"] <= 100
        assert content["host_virtual_memory"]["total"] > 0
