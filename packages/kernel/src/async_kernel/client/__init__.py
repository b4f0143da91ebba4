"""Clients that talk to a kernel: from a cell of the running kernel, or to a kernel process.

Users import them from ``async_kernel.messaging`` (``LocalClient``) and
``async_kernel.messaging.zmq`` (``ZMQClient``), which load them on first use by name; the
typed classes are here. This package sits above the kernel.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "ClientError": "._base",
    "KernelClient": "._base",
    "KernelReply": "._base",
    "LocalClient": "._local",
    "ZMQClient": "._zmq",
}

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._base import ClientError as ClientError
    from ._base import KernelClient as KernelClient
    from ._base import KernelReply as KernelReply
    from ._local import LocalClient as LocalClient
    from ._zmq import ZMQClient as ZMQClient

__all__ = ["ClientError", "KernelClient", "KernelReply", "LocalClient", "ZMQClient"]


def __getattr__(name: str) -> Any:
    import importlib

    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
