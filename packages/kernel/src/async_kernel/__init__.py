"""A Jupyter kernel for Python that handles messages concurrently, on asyncio or trio.

Layers: ``_message``/``_codec``/``_json`` (wire format), ``_transport`` (the interface the core
sends through) with ``_zmq_transport`` (sockets, IO thread) and ``_callable`` (function calls,
no threads: Pyodide), ``_dispatcher`` (run modes), ``_kernel`` (handlers, sending),
``_shell``/``_execute``/``_iostream``/``_stdin``/``_interrupts`` (running cells),
``_cli``/``_kernelspec`` (commands).

Public names load lazily: ``python -m async_kernel`` imports this package first, and starting a
kernel should not pay for modules the command line does not need.
"""

from __future__ import annotations

from ._version import __version__ as __version__

# Not `from typing import TYPE_CHECKING`: the command line listens on the kernel's ports before
# importing anything it can avoid (see `_listeners`), and type checkers read this name as True.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._callable import CallableKernel as CallableKernel
    from ._exceptions import GuiError as GuiError
    from ._exceptions import GuiUnavailableError as GuiUnavailableError
    from ._exceptions import KernelError as KernelError
    from ._exceptions import UnknownBackendError as UnknownBackendError
    from ._exceptions import UnknownGuiError as UnknownGuiError
    from ._start import start_kernel as start_kernel
    from .messaging._errors import ConnectionFileError as ConnectionFileError
    from .messaging._errors import InvalidMessageError as InvalidMessageError
    from .runtime._backends import BackendSpec as BackendSpec
    from .shell._gui import GuiIntegration as GuiIntegration

_LAZY = {
    "BackendSpec": ".runtime._backends",
    "CallableKernel": "._callable",
    "ConnectionFileError": ".messaging._errors",
    "GuiError": "._exceptions",
    "GuiIntegration": ".shell._gui",
    "GuiUnavailableError": "._exceptions",
    "InvalidMessageError": ".messaging._errors",
    "KernelError": "._exceptions",
    "UnknownBackendError": "._exceptions",
    "UnknownGuiError": "._exceptions",
    "start_kernel": "._start",
}

__all__ = [
    "BackendSpec",
    "CallableKernel",
    "ConnectionFileError",
    "GuiError",
    "GuiIntegration",
    "GuiUnavailableError",
    "InvalidMessageError",
    "KernelError",
    "UnknownBackendError",
    "UnknownGuiError",
    "__version__",
    "start_kernel",
]


def __getattr__(name: str) -> Any:
    import importlib

    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'async_kernel' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
