"""Wire format and transports; the clients are reached from here too.

``LocalClient`` lives in ``async_kernel.client`` (a layer above the kernel) and is loaded on
first use through a string module path, so nothing in this layer imports upwards (type
checkers see these names as ``Any`` here; ``async_kernel.client`` holds the typed classes).
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
