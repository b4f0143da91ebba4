"""The backends a `Caller` runs on: their names, the check of a name, and their runners.

async_caller keeps this small check of its own (it cannot know the kernel's registry); the
trio runner is imported only when a trio loop asks for it, since trio is optional.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Final

from ._asyncio_runner import AsyncioRunner
from ._exceptions import UnknownBackendError

if TYPE_CHECKING:
    from ._runner import Runner

__all__ = ["BACKENDS", "check_backend", "create_runner"]

BACKENDS: Final = ("asyncio", "trio")
"""The event-loop backends a `Caller` can run on."""


def check_backend(backend: str) -> None:
    """Raise `UnknownBackendError` unless ``backend`` can be started here."""
    if backend not in BACKENDS:
        msg = f"no backend named {backend!r}; valid backends are {', '.join(map(repr, BACKENDS))}"
        raise UnknownBackendError(msg)
    if backend == "trio" and importlib.util.find_spec("trio") is None:
        msg = "backend 'trio' is not installed; install it with: pip install async-caller[trio]"
        raise UnknownBackendError(msg)


def create_runner(backend: str) -> Runner:
    """Return the runner for ``backend`` (the running loop's library); in that loop."""
    if backend == "asyncio":
        return AsyncioRunner()
    if backend == "trio":
        from ._trio_runner import TrioRunner  # imports trio: only for a trio loop

        return TrioRunner()
    msg = f"async_caller cannot run on the {backend!r} event loop; use asyncio or trio"
    raise RuntimeError(msg)
