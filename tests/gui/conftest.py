"""Kernels for GUI tests: on both backends, with or without a private X display.

Starting a kernel and importing matplotlib or Qt is most of these tests' cost, so each kernel
serves many checks: one session kernel per backend (and test worker) runs the plot and
bad-input tests, and each toolkit's test runs all its steps in one kernel of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.gui.display import virtual_display
from tests.kernel_fixtures import KernelHarness, running_kernel

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

BACKENDS = ["asyncio", "trio"]


@pytest.fixture
def display() -> Iterator[str]:
    """An X display of the test's own, so screenshots see only its windows."""
    with virtual_display() as name:
        yield name


@pytest.fixture(scope="session", params=BACKENDS)
def kernel(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KernelHarness]:
    """A kernel without a display, shared by the plot and bad-input tests."""
    folder = tmp_path_factory.mktemp("kernel")
    with running_kernel(folder, request.param, env={"DISPLAY": None}) as harness:
        yield harness


@pytest.fixture(params=BACKENDS)
def gui_kernel(
    request: pytest.FixtureRequest, tmp_path: Path, display: str
) -> Iterator[KernelHarness]:
    """A kernel whose windows go to the test's display (Qt through PySide6)."""
    folder = tmp_path / "kernel"
    env = {"DISPLAY": display, "QT_API": "pyside6"}
    with running_kernel(folder, request.param, env=env) as harness:
        yield harness
