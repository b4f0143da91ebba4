"""Plots in the notebook: matplotlib's inline backend and ipympl's interactive figures.

Neither needs an event loop: inline figures are sent as images when a cell ends (by
matplotlib-inline's ``post_execute`` hook), and ipympl figures are widgets that talk over comms,
which the kernel already serves. Enabling them therefore only checks they are installed and
stops a toolkit loop that was running before.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import TYPE_CHECKING

from async_kernel import GuiUnavailableError

if TYPE_CHECKING:
    from ._kernel import KernelLike

__all__ = ["INLINE_BACKEND", "InlineIntegration", "IpymplIntegration", "close_figures_of"]

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
"""matplotlib's name for the inline backend; the kernel's default through ``MPLBACKEND``."""


def close_figures_of(backend_module: str) -> None:
    """Close pyplot's figures whose canvas class derives from one in ``backend_module``.

    A toolkit integration calls it when its loop stops: those windows could no longer react,
    and pyplot would keep drawing into the current one after ``%matplotlib inline``.
    """
    if "matplotlib.pyplot" not in sys.modules:
        return  # no figures yet, and no reason to import matplotlib
    # Imported here, once the user has imported pyplot.
    from matplotlib import pyplot
    from matplotlib._pylab_helpers import Gcf

    for manager in Gcf.get_all_fig_managers():
        classes = type(manager.canvas).__mro__
        if any(cls.__module__ == backend_module for cls in classes):
            pyplot.close(manager.canvas.figure)


def _require(module: str, extra: str) -> None:
    if importlib.util.find_spec(module) is None:
        msg = (
            f"the {extra} integration needs {module!r}, which is not installed; "
            f"install it with: pip install async-kernel-gui[{extra}]"
        )
        raise GuiUnavailableError(msg)


class InlineIntegration:
    """Figures appear as ``image/png`` (or svg, retina) output of the cell that drew them.

    Enabled when the kernel starts: it makes the inline backend matplotlib's default by setting
    ``MPLBACKEND`` unless the user set it, so ``plt.plot(...)`` in a fresh kernel shows a plot.
    """

    aliases: tuple[str, ...] = ()

    def check(self) -> None:
        """Fail if matplotlib-inline is missing (it is a dependency, so only when broken)."""
        _require("matplotlib_inline", "matplotlib")

    def enable(self, kernel: KernelLike) -> None:
        """Make inline the default backend for matplotlib imported from now on (main thread)."""
        del kernel
        os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)

    def disable(self, kernel: KernelLike) -> None:
        """Nothing runs, so nothing stops; the backend changes only with ``%matplotlib``."""
        del kernel


class IpymplIntegration:
    """Interactive figures as ipywidgets (``%matplotlib widget`` / ``%matplotlib ipympl``)."""

    aliases: tuple[str, ...] = ("widget",)

    def check(self) -> None:
        """Fail with the extra to install if ipympl is missing."""
        _require("ipympl", "ipympl")

    def enable(self, kernel: KernelLike) -> None:
        """Nothing to start: figures use the kernel's comms (main thread)."""
        del kernel

    def disable(self, kernel: KernelLike) -> None:
        """Nothing to stop."""
        del kernel
