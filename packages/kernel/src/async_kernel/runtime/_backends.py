"""Kernel backends: the event loop the kernel runs on, found through entry points.

asyncio is built in. Other backends register an object in the ``async_kernel.backends``
entry-point group (``async-kernel-trio`` registers ``trio``), so the core never imports them.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

from .._exceptions import UnknownBackendError

__all__ = ["BackendSpec", "available_backends", "resolve_backend"]

ENTRY_POINT_GROUP = "async_kernel.backends"


@dataclass(frozen=True, slots=True)
class BackendSpec:
    """How to run the kernel on one event loop library.

    Attributes:
        name: the name users pass to ``--backend``.
        anyio_backend: the backend name anyio runs (``"asyncio"`` or ``"trio"``).
        options: ``backend_options`` for ``anyio.run``.
        hide_running_loop: returns a context manager that hides the backend's run state in
            the calling thread while a cell runs an event loop of its own there (``trio.run``
            in a cell on the trio backend); None when nothing but asyncio's and sniffio's
            markers needs hiding.
    """

    name: str
    anyio_backend: str
    options: dict[str, Any] = field(default_factory=dict)
    hide_running_loop: Callable[[], AbstractContextManager[object]] | None = None


ASYNCIO = BackendSpec("asyncio", "asyncio")


def available_backends() -> dict[str, BackendSpec]:
    """Return every installed backend by name, asyncio included."""
    found = {"asyncio": ASYNCIO}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        spec = entry_point.load()
        if isinstance(spec, BackendSpec):
            found[entry_point.name] = spec
    return found


def resolve_backend(name: str) -> BackendSpec:
    """Return the backend called ``name``.

    Raises:
        UnknownBackendError: it is not installed; the message names the extra to install.
    """
    if name == "asyncio":
        return ASYNCIO
    backends = available_backends()
    try:
        spec = backends[name]
    except KeyError:
        msg = f"no kernel backend named {name!r}; install it with: pip install async-kernel[{name}]"
        raise UnknownBackendError(msg) from None
    if importlib.util.find_spec(spec.anyio_backend) is None:
        msg = (
            f"kernel backend {name!r} needs {spec.anyio_backend!r}, which is not installed; "
            f"install it with: pip install async-kernel[{name}]"
        )
        raise UnknownBackendError(msg)
    return spec
