"""Kernels for GUI tests: on both backends, with or without a private X display."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.gui.display import virtual_display
from tests.kernel_fixtures import KernelHarness, running_kernel

if TYPE_CHECKING:
    from collections.abc import Iterator

BACKENDS = ["asyncio", "trio"]


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """An X display of the test module's own, so screenshots see only its windows."""
    with virtual_display() as name:
        yield name


@pytest.fixture(scope="module", params=BACKENDS)
def kernel(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KernelHarness]:
    """A kernel without a display, shared by the module's tests."""
    folder = tmp_path_factory.mktemp("kernel")
    with running_kernel(folder, request.param, env={"DISPLAY": None}) as harness:
        yield harness


@pytest.fixture(scope="module", params=BACKENDS)
def gui_kernel(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, display: str
) -> Iterator[KernelHarness]:
    """A kernel whose windows go to the module's display (Qt through PySide6)."""
    folder = tmp_path_factory.mktemp("gui-kernel")
    env = {"DISPLAY": display, "QT_API": "pyside6"}
    with running_kernel(folder, request.param, env=env) as harness:
        yield harness
