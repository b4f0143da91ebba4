"""Kernel backends: the event loop the kernel runs on, found through entry points.

The one registry of backends, for the kernel and the kernel-spec command line alike. asyncio
is built in. Other backends register a :class:`BackendSpec` in the ``async_kernel.backends``
entry-point group (``async-kernel-trio`` registers ``trio``), so the core never imports them.
Listing and checking names reads entry-point metadata only: installing a trio spec imports
nothing of trio.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

from .._exceptions import UnknownBackendError

__all__ = [
    "BUILTIN_BACKEND",
    "ENTRY_POINT_GROUP",
    "BackendSpec",
    "backend_names",
    "check_backend",
    "resolve_backend",
]

ENTRY_POINT_GROUP = "async_kernel.backends"
"""The entry-point group through which packages add backends (such as async-kernel-trio)."""

BUILTIN_BACKEND = "asyncio"
"""The backend that needs no plugin."""

_EXTRAS = {"trio": "async-kernel[trio]"}
"""Backends with a known extra, so an error can say exactly what to install."""


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


ASYNCIO = BackendSpec(BUILTIN_BACKEND, "asyncio")


def backend_names() -> list[str]:
    """The names of the installed backends, the built-in one first (metadata only)."""
    from importlib.metadata import entry_points  # 40 ms: keep it off the asyncio start path

    registered = {entry_point.name for entry_point in entry_points(group=ENTRY_POINT_GROUP)}
    registered.discard(BUILTIN_BACKEND)
    return [BUILTIN_BACKEND, *sorted(registered)]


def check_backend(name: str) -> None:
    """Check that a backend is installed, without importing it.

    Raises:
        UnknownBackendError: no package registers it; the message says what to install.
    """
    if name == BUILTIN_BACKEND or name in backend_names():
        return
    raise UnknownBackendError(f"no kernel backend named {name!r}; {_install_hint(name)}")


def resolve_backend(name: str) -> BackendSpec:
    """Return the backend called ``name``, loading its entry point.

    Raises:
        UnknownBackendError: it is not installed; the message names what to install.
    """
    if name == BUILTIN_BACKEND:
        return ASYNCIO
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    spec = found[0].load() if found else None
    if not isinstance(spec, BackendSpec):
        raise UnknownBackendError(f"no kernel backend named {name!r}; {_install_hint(name)}")
    if importlib.util.find_spec(spec.anyio_backend) is None:
        msg = (
            f"kernel backend {name!r} needs {spec.anyio_backend!r}, which is not installed; "
            f"install it with: pip install {_EXTRAS.get(name, f'async-kernel[{name}]')}"
        )
        raise UnknownBackendError(msg)
    return spec


def _install_hint(name: str) -> str:
    extra = _EXTRAS.get(name)
    if extra is not None:
        return f"install it with: pip install {extra}"
    return (
        f"available backends: {', '.join(backend_names())}; a backend is added by a package "
        f"that registers it in the {ENTRY_POINT_GROUP!r} entry-point group"
    )
