"""Bad GUI requests fail with a message that says what to do, and the kernel goes on."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.gui.helpers import fails, ok, result

if TYPE_CHECKING:
    from tests.kernel_fixtures import KernelHarness

HIDE = """
import sys
hidden = {{name: module for name, module in sys.modules.items() if name.split('.')[0] in {names}}}
for name in {names}:
    sys.modules[name] = None  # how Python marks a module that cannot be imported
"""
RESTORE = """
for name in {names}:
    del sys.modules[name]
sys.modules.update(hidden)
"""
QT_BINDINGS = ("PyQt6", "PySide6", "PyQt5", "PySide2")


def assert_inline_still_active(kernel: KernelHarness) -> None:
    assert result(kernel, "get_ipython().kernel.gui.active_name") == "'inline'"


@pytest.mark.parametrize("name", ["nonsense", "gtk", "osx"])
def test_unknown_gui_lists_the_integrations(kernel: KernelHarness, name: str) -> None:
    """%gui with a name nobody registered fails in one line that lists what is installed."""
    error = fails(kernel, f"%gui {name}")
    assert error["ename"] == "UnknownGuiError"
    assert error["evalue"] == (
        f"no GUI integration named {name!r}; available: inline, ipympl, qt, tk"
    )
    assert error["traceback"] == [f"UnknownGuiError: {error['evalue']}"]
    assert_inline_still_active(kernel)


def test_aliases_reach_their_integration(kernel: KernelHarness) -> None:
    """Names are case-insensitive and aliases work (widget is ipympl); %gui alone goes back."""
    ok(kernel, "%gui Widget")
    assert result(kernel, "get_ipython().kernel.gui.active_name") == "'ipympl'"
    ok(kernel, "%gui")
    assert_inline_still_active(kernel)


@pytest.mark.parametrize(
    ("hidden", "cell", "package"),
    [
        (QT_BINDINGS, "%gui qt", "pip install async-kernel-gui[qt]"),
        (QT_BINDINGS, "%matplotlib qt", "pip install async-kernel-gui[qt]"),
        (("ipympl",), "%matplotlib widget", "pip install async-kernel-gui[ipympl]"),
        (("tkinter", "_tkinter"), "%gui tk", "apt install python3-tk"),
    ],
)
def test_missing_toolkit_names_the_package(
    kernel: KernelHarness, hidden: tuple[str, ...], cell: str, package: str
) -> None:
    """A toolkit that cannot be imported gives an error naming what to install."""
    ok(kernel, HIDE.format(names=hidden))
    try:
        error = fails(kernel, cell)
    finally:
        ok(kernel, RESTORE.format(names=hidden))
    assert error["ename"] == "GuiUnavailableError"
    assert package in error["evalue"]
    assert_inline_still_active(kernel)


@pytest.mark.parametrize("cell", ["%gui qt", "%matplotlib qt"])
def test_qt_without_a_display_fails_instead_of_aborting(kernel: KernelHarness, cell: str) -> None:
    """Qt would abort the process without a display: the kernel reports it and lives on."""
    error = fails(kernel, cell)
    assert error["ename"] == "GuiError"
    assert "DISPLAY" in error["evalue"]
    assert_inline_still_active(kernel)
    # matplotlib kept its backend: the next figure does not try Qt (which would abort).
    backend = result(kernel, "import matplotlib; matplotlib.get_backend()")
    assert backend in ("'inline'", "'module://matplotlib_inline.backend_inline'")


def test_gui_switches_only_from_the_main_thread(kernel: KernelHarness) -> None:
    """A # thread cell cannot start a toolkit loop, which must live in the main thread."""
    error = fails(kernel, "# thread\n%gui tk")
    assert error["ename"] == "GuiError"
    assert "main thread" in error["evalue"]
    assert_inline_still_active(kernel)
