"""Letting libraries that look for ipykernel see a notebook kernel.

``tqdm.auto`` (``tqdm.autonotebook``) picks its widget progress bar only if
``ipykernel.zmqshell`` is imported: that is how it tells a notebook kernel from a terminal.
When ipykernel is installed, this kernel imports that module just before tqdm looks (at the
first import of ``tqdm.autonotebook``), so tqdm sees what it expects of a notebook kernel. The
module is imported only, never used, and nothing is imported when tqdm is not. Without
ipykernel, ``tqdm.auto`` gives its text bar; ``tqdm.notebook`` gives the widget bar anyway.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

__all__ = ["install_library_compat", "uninstall_library_compat"]

_IMPORT_FIRST = {"tqdm.autonotebook": "ipykernel.zmqshell"}
"""Module -> a module imported just before it, when installed."""


class _ImportFirst(importlib.abc.MetaPathFinder):
    """Imports a module a library checks for, right before the library's own import."""

    def __init__(self, before: dict[str, str]) -> None:
        self._before = dict(before)

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        del path, target
        needed = self._before.pop(fullname, None)
        if needed is not None and importlib.util.find_spec(needed.partition(".")[0]):
            with contextlib.suppress(Exception):  # tqdm then falls back to its text bar
                importlib.import_module(needed)
        return None  # the normal finders import ``fullname``


def install_library_compat() -> None:
    """Install the import hook (once, at kernel start)."""
    if not any(isinstance(finder, _ImportFirst) for finder in sys.meta_path):
        sys.meta_path.insert(0, _ImportFirst(_IMPORT_FIRST))


def uninstall_library_compat() -> None:
    """Remove the import hook (kernel stopped)."""
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _ImportFirst)]
