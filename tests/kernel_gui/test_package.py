"""async-kernel-gui's public surface and its entry points, as the kernel core sees them."""

from __future__ import annotations

import inspect
import subprocess
import sys
from importlib.metadata import entry_points

import async_kernel_gui
from async_kernel import GuiIntegration
from async_kernel.shell._gui import ENTRY_POINT_GROUP, available_guis


def test_all_lists_every_public_name() -> None:
    """__all__ is exactly the public names the package root defines."""
    public = {
        name
        for name, value in vars(async_kernel_gui).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert set(async_kernel_gui.__all__) == public


def test_public_names_show_the_package_path_and_are_documented() -> None:
    """Classes and functions read as async_kernel_gui.X and have docstrings."""
    for name in async_kernel_gui.__all__:
        value = getattr(async_kernel_gui, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__ == "async_kernel_gui", name
            assert inspect.getdoc(value), name


def test_entry_points_load_integrations() -> None:
    """inline, ipympl, qt and tk are registered and each is a GuiIntegration."""
    assert available_guis() == ["inline", "ipympl", "qt", "tk"]
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        assert isinstance(entry_point.load(), GuiIntegration), entry_point.name
    # The type checker holds each one to the protocol too.
    integrations: list[GuiIntegration] = [
        async_kernel_gui.INLINE,
        async_kernel_gui.IPYMPL,
        async_kernel_gui.QT,
        async_kernel_gui.TK,
    ]
    assert len(integrations) == 4


def test_loading_the_integrations_imports_no_toolkit() -> None:
    """The kernel and the entry points load without matplotlib, Tk or Qt."""
    code = (
        "import sys\n"
        "from async_kernel._kernel import Kernel\n"
        "from async_kernel.shell._gui import GuiManager\n"
        "import async_kernel_gui\n"
        "heavy = {'matplotlib', 'tkinter', 'PySide6', 'PyQt6', 'ipympl'}\n"
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
