"""Tests for async_kernel.debugger._debug_inspection: user frames, namespace variables, rich values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import async_kernel
from async_kernel.debugger._debug_inspection import (
    kernel_folders,
    namespace_variables,
    rich_bundle_json,
    users_frames,
)
from async_kernel.shell._shell import cell_files

KERNEL_FILE = str(Path(async_kernel.__file__).parent / "_execute.py")


def frame(name: str, path: str) -> dict[str, Any]:
    return {"id": len(path), "name": name, "line": 1, "source": {"path": path}}


def test_stack_ends_at_the_outermost_cell() -> None:
    """Frames below the outermost cell (IPython, the kernel, the event loop) are dropped."""
    cell = cell_files.path_for("f()\n")
    other_cell = cell_files.path_for("def f(): g()\n")
    frames = [
        frame("g", "/home/user/project/module.py"),
        frame("f", other_cell),
        frame("<module>", cell),
        frame("run_code", KERNEL_FILE),
        frame("run", "/usr/lib/python3/asyncio/events.py"),
    ]
    assert users_frames(frames) == frames[:3]


def test_stack_without_cells_drops_kernel_files() -> None:
    """A thread a cell started has no cell frame: only the kernel's own files are removed."""
    frames = [frame("work", "/home/user/project/module.py"), frame("execute", KERNEL_FILE)]
    assert users_frames(frames) == frames[:1]
    assert any(KERNEL_FILE.startswith(folder) for folder in kernel_folders())


def test_namespace_variables_skip_private_and_hidden_names() -> None:
    """Names IPython put there itself and private names are not the user's variables."""

    class BrokenRepr:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    marker = object()
    namespace = {"x": 1, "_private": 2, "In": marker, "broken": BrokenRepr(), "long": "a" * 1000}
    variables = {v["name"]: v for v in namespace_variables(namespace, {"In": marker})}
    assert set(variables) == {"x", "broken", "long"}
    assert variables["x"] == {
        "name": "x",
        "value": "1",
        "type": "int",
        "evaluateName": "x",
        "variablesReference": 0,
    }
    assert variables["broken"]["value"].startswith("<BrokenRepr instance")
    assert len(variables["long"]["value"]) < 300


def test_rich_bundle_without_ipython_is_plain_text() -> None:
    """Outside a kernel (no IPython shell) the bundle is the value's repr."""
    assert json.loads(rich_bundle_json([1, 2])) == {
        "data": {"text/plain": "[1, 2]"},
        "metadata": {},
    }
