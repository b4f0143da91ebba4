"""Handling ``usage_request`` on control: the kernel's CPU and memory, for JupyterLab's panel.

jupyter-resource-usage's kernel usage panel asks for this and reads ipykernel's fields:
``hostname``, ``pid``, ``kernel_cpu`` and ``kernel_memory`` (the kernel and the processes it
started, together), ``cpu_count``, ``host_cpu_percent`` and ``host_virtual_memory``.

Runs in a worker thread (reading a process's memory map takes milliseconds). psutil is
imported at the first request; without it the reply has what the standard library knows.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..messaging._message import Message

__all__ = ["UsageHandler"]


class Replier(Protocol):
    """What the handler needs from the kernel: a way to answer a request."""

    def reply(
        self,
        request: Message,
        msg_type: str,
        content: dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Send a reply to ``request`` on its channel."""
        ...


class UsageHandler:
    """Measures the kernel's resource use when asked (any thread, one request at a time)."""

    def __init__(self, replier: Replier) -> None:
        self._replier = replier
        self._lock = threading.Lock()
        self._processes: dict[int, Any] = {}
        """psutil's Process objects by pid, kept between requests: CPU use is measured
        between two calls on the same object."""
        self._measured_host_cpu = False

    def usage_request(self, msg: Message) -> None:
        """Reply with the kernel's and the host's CPU and memory use."""
        with self._lock:
            content = self._measure()
        self._replier.reply(msg, "usage_reply", content)

    def _measure(self) -> dict[str, Any]:
        content: dict[str, Any] = {
            "status": "ok",
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
        }
        try:
            import psutil
        except ImportError:
            content["cpu_count"] = os.cpu_count()
            return content
        kernel = psutil.Process()
        family = [kernel, *kernel.children(recursive=True)]
        # Reuse the objects of processes seen before: cpu_percent compares with their last call.
        self._processes = {p.pid: self._processes.get(p.pid, p) for p in family}
        content["kernel_cpu"] = sum(_cpu_percent(p) for p in self._processes.values())
        content["kernel_memory"] = sum(_memory(p) for p in self._processes.values())
        # The first call has nothing to compare with: measure over a short interval then.
        interval = None if self._measured_host_cpu else 0.1
        self._measured_host_cpu = True
        content["host_cpu_percent"] = psutil.cpu_percent(interval=interval)
        content["cpu_count"] = psutil.cpu_count(logical=True)
        content["host_virtual_memory"] = dict(psutil.virtual_memory()._asdict())
        return content


def _cpu_percent(process: Any) -> float:
    try:
        return float(process.cpu_percent())
    except Exception:  # noqa: BLE001 - a child that ended meanwhile counts for nothing
        return 0.0


def _memory(process: Any) -> int:
    """Proportional set size where the OS reports it (shared pages split), else resident."""
    try:
        info = process.memory_full_info()
    except Exception:  # noqa: BLE001 - ended meanwhile, or not ours to read
        return 0
    return int(getattr(info, "pss", info.rss))
