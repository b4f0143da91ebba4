"""What the kernel shows of the user's code by itself: variables, rich values, user frames.

``inspectVariables`` and ``richInspectVariables`` outside a stopped frame read the main shell's
namespace here, in the control thread. Inside a stopped frame, :func:`rich_bundle_json` is
called by debugpy in the stopped thread, so the namespace is that of the shell that ran the
cell. Stack frames are filtered so the kernel's own machinery never shows.
"""

from __future__ import annotations

import importlib.util
import json
import reprlib
from functools import cache
from pathlib import Path
from typing import Any

from ..shell._shell import cell_files

__all__ = ["kernel_folders", "namespace_variables", "rich_bundle_json", "users_frames"]

KERNEL_MODULES = (
    "async_kernel",
    "async_kernel_trio",
    "async_caller",
    "IPython",
    "anyio",
    "aiologic",
    "asyncio",
    "trio",
    "zmq",
    "traitlets",
    "comm",
)
"""Packages whose frames are the kernel's machinery, never the user's code."""

RICH_BUNDLE_EXPRESSION = (
    "__import__('async_kernel.debugger._debug_inspection', fromlist=['_']).rich_bundle_json({name})"
)
"""What debugpy evaluates in a stopped frame for ``richInspectVariables``."""

_value_repr = reprlib.Repr()
_value_repr.maxstring = _value_repr.maxother = 200


@cache
def kernel_folders() -> tuple[str, ...]:
    """The folders of the packages in :data:`KERNEL_MODULES` that are installed."""
    folders: list[str] = []
    for name in KERNEL_MODULES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.submodule_search_locations:
            folders.extend(str(Path(folder)) for folder in spec.submodule_search_locations)
    return tuple(folders)


def users_frames(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A DAP stack without the kernel's frames: up to the outermost cell, or non-kernel files."""
    paths = [str((frame.get("source") or {}).get("path", "")) for frame in frames]
    cells = [index for index, path in enumerate(paths) if cell_files.is_cell(path)]
    if cells:
        return frames[: cells[-1] + 1]
    folders = kernel_folders()
    return [
        frame for frame, path in zip(frames, paths, strict=True) if not path.startswith(folders)
    ]


def namespace_variables(namespace: dict[str, Any], hidden: dict[str, Any]) -> list[dict[str, Any]]:
    """DAP variables for a shell's names, without IPython's own and private ones (any thread)."""
    variables: list[dict[str, Any]] = []
    for name, value in list(namespace.items()):
        if name.startswith("_") or (name in hidden and hidden[name] is value):
            continue
        variables.append(
            {
                "name": name,
                "value": _value_repr.repr(value),  # a failing __repr__ gives a placeholder
                "type": type(value).__qualname__,
                "evaluateName": name,
                "variablesReference": 0,
            }
        )
    return variables


def rich_bundle_json(value: object) -> str:
    """Format ``value`` with IPython's display formatter; JSON of ``{data, metadata}``.

    debugpy calls it inside a stopped frame (:data:`RICH_BUNDLE_EXPRESSION`), so it must be
    importable by name and return a string, whose repr carries the whole result back.
    """
    from IPython.core.getipython import get_ipython

    shell = get_ipython()
    if shell is None:
        return json.dumps({"data": {"text/plain": repr(value)}, "metadata": {}})
    formatter: Any = shell.display_formatter
    data, metadata = formatter.format(value)
    return json.dumps({"data": data, "metadata": metadata}, default=repr)
