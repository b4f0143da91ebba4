"""A Jupyter kernel for Python that handles messages concurrently, on asyncio or trio.

Layers, bottom up, each importing only from those below it (docs/architecture.md; CI checks
it with import-linter): ``messaging`` (wire format and transports), ``runtime`` (context,
interrupts, signals, the outbox that sends), ``shell`` (IPython, streams, stdin, history),
``handlers`` and ``debugger`` (one module per request family, given narrow collaborators),
then ``_dispatcher`` (run modes), ``_kernel`` (the composition root), ``_start``,
``_callable`` and ``cli``.

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
    from ._exceptions import KernelLoopInUseError as KernelLoopInUseError
    from ._exceptions import UnknownBackendError as UnknownBackendError
    from ._exceptions import UnknownGuiError as UnknownGuiError
    from ._kernel import Kernel as Kernel
    from ._start import start_kernel as start_kernel
    from .messaging._errors import ConnectionFileError as ConnectionFileError
    from .messaging._errors import InvalidMessageError as InvalidMessageError
    from .runtime._backends import BackendSpec as BackendSpec
    from .shell._gui import GuiHost as GuiHost
    from .shell._gui import GuiIntegration as GuiIntegration

_LAZY = {
    "BackendSpec": ".runtime._backends",
    "CallableKernel": "._callable",
    "ConnectionFileError": ".messaging._errors",
    "GuiError": "._exceptions",
    "GuiHost": ".shell._gui",
    "GuiIntegration": ".shell._gui",
    "GuiUnavailableError": "._exceptions",
    "InvalidMessageError": ".messaging._errors",
    "Kernel": "._kernel",
    "KernelError": "._exceptions",
    "KernelLoopInUseError": "._exceptions",
    "UnknownBackendError": "._exceptions",
    "UnknownGuiError": "._exceptions",
    "start_kernel": "._start",
}

__all__ = [
    "BackendSpec",
    "CallableKernel",
    "ConnectionFileError",
    "GuiError",
    "GuiHost",
    "GuiIntegration",
    "GuiUnavailableError",
    "InvalidMessageError",
    "Kernel",
    "KernelError",
    "KernelLoopInUseError",
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
    if getattr(value, "__module__", "").startswith(f"{__name__}."):
        value.__module__ = __name__  # reads as async_kernel.X in reprs and tracebacks
    globals()[name] = value
    return value
