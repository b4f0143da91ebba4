"""The wire format (messages, codec, connection files) and the transports that carry it.

The lowest layer: it imports nothing else of the kernel. Importing this package loads nothing
heavy (Pyodide has no pyzmq; ``messaging.zmq`` is imported only where ZeroMQ is used).

``LocalClient`` (and ``KernelReply``, ``ClientError``) live in ``async_kernel.client``, a layer
above the kernel, and load on first use through a string module path, so nothing here imports
upwards; type checkers see them as ``Any`` here, ``async_kernel.client`` holds the typed ones.
"""

from __future__ import annotations

# Not `from typing import ...`: the command line listens on the kernel's ports before it imports
# anything it can avoid (see `_listeners`, in this package); type checkers read this as True.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_LAZY = {
    "Channel": "async_kernel.messaging._message",
    "Message": "async_kernel.messaging._message",
    "ClientError": "async_kernel.client._base",
    "KernelReply": "async_kernel.client._base",
    "LocalClient": "async_kernel.client._local",
}


def __getattr__(name: str) -> Any:
    import importlib

    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
