"""GUI integrations (matplotlib inline, ipympl, tk, Qt), found through entry points.

IPython's ``%gui`` and ``%matplotlib`` magics end in ``KernelShell.enable_gui``, which hands the
name to the kernel's :class:`GuiManager`. The manager maps it to an object registered in the
``async_kernel.gui`` entry-point group (``async-kernel-gui`` registers ``inline``, ``ipympl``,
``tk`` and ``qt``) and switches to it. The core never imports a toolkit or matplotlib, so
installing ``async-kernel[gui]`` is all it takes, and uninstalling it cannot break the kernel.

Everything here runs in the main thread: toolkits such as Tk and Qt must live there, next to
the main shell's event loop.
"""

from __future__ import annotations

import logging
import threading
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .._exceptions import GuiError, UnknownGuiError

if TYPE_CHECKING:
    from async_caller import Caller

    from ._shell import KernelShell

__all__ = ["DEFAULT_GUI", "GuiHost", "GuiIntegration", "GuiManager", "available_guis"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "async_kernel.gui"
DEFAULT_GUI = "inline"
"""Enabled when the kernel starts, and what ``%gui`` without a name switches back to."""


class GuiHost(Protocol):
    """What a GUI integration gets from the kernel: where the main thread's loop runs."""

    @property
    def main_caller(self) -> Caller:
        """The Caller of the main thread's event loop, where toolkits live."""
        ...


@runtime_checkable
class GuiIntegration(Protocol):
    """What an ``async_kernel.gui`` entry point loads: one way to show plots or windows.

    ``enable`` and ``disable`` run in the main thread. An integration that needs a toolkit's
    event loop starts it (for example as a task in ``host.main_caller``) in ``enable`` and
    stops it in ``disable``.
    """

    aliases: tuple[str, ...]
    """Other names IPython passes for it, such as ``qt6`` for ``qt``."""

    def check(self) -> None:
        """Raise :class:`GuiUnavailableError` naming what to install if it cannot work here."""
        ...

    def enable(self, kernel: GuiHost) -> None:
        """Start showing output this way (main thread, after :meth:`check` passed)."""
        ...

    def disable(self, kernel: GuiHost) -> None:
        """Stop, for example because another integration takes over (main thread)."""
        ...


def available_guis() -> list[str]:
    """Names of the installed GUI integrations, sorted."""
    return sorted({entry_point.name for entry_point in entry_points(group=ENTRY_POINT_GROUP)})


class GuiManager:
    """Knows which GUI integration is active in one kernel and switches between them."""

    def __init__(self, shell: KernelShell, host: GuiHost) -> None:
        self._shell = shell
        self._host = host
        self._loaded: dict[str, GuiIntegration] = {}
        self._active: GuiIntegration | None = None
        self.active_name: str | None = None
        """The name of the active integration (None before start or without any installed)."""

    def start(self) -> None:
        """Enable the default integration if it is installed (main thread, at kernel start).

        A broken integration is logged, not raised: plots are optional, the kernel is not.
        Also replaces IPython's ``%gui``, which only logs its errors to the kernel's stderr
        where the user never sees them.
        """
        self._shell.magics_manager.register_function(self._gui_magic, "line", "gui")
        # One look through the installed entry points, not two: with a few hundred packages
        # installed each look reads as many metadata files (~15 ms).
        try:
            self.enable(DEFAULT_GUI)
        except UnknownGuiError:
            return  # async-kernel-gui is not installed: no plots inline, nothing to say
        except Exception:
            log.exception("the default GUI integration %r could not be enabled", DEFAULT_GUI)

    def stop(self) -> None:
        """Disable the active integration (main thread, at kernel shutdown); never raises."""
        active, self._active, self.active_name = self._active, None, None
        if active is not None:
            try:
                active.disable(self._host)
            except Exception:
                log.exception("the GUI integration could not be disabled at shutdown")

    def check(self, gui: str | None) -> None:
        """Fail early if ``gui`` names one of our integrations that cannot work here.

        ``%matplotlib`` calls this before matplotlib switches backend, so a missing toolkit
        gives our message naming the package to install; names we do not know are left to
        matplotlib.
        """
        if gui in (None, "auto"):
            return
        try:
            name, integration = self._resolve(gui)
        except UnknownGuiError:
            return
        del name
        integration.check()

    def enable(self, gui: str | None) -> None:
        """Switch to the integration named ``gui`` (None: the default); main thread only.

        The new integration is enabled before the old one is disabled, so a failure leaves
        the old one running.

        Raises:
            UnknownGuiError: no integration of that name; the message lists the installed ones.
            GuiUnavailableError: it needs a package that is not installed.
            GuiError: called outside the main thread.
        """
        name, integration = self._resolve(gui or DEFAULT_GUI)
        if integration is self._active:
            return
        if threading.current_thread() is not threading.main_thread():
            msg = f"GUI integrations run in the main thread; switch to {name!r} from the main shell"
            raise GuiError(msg)
        integration.check()
        integration.enable(self._host)
        previous, self._active, self.active_name = self._active, integration, name
        if previous is not None:
            previous.disable(self._host)

    def _gui_magic(self, line: str) -> None:
        """Switch the GUI event loop: ``%gui tk``, ``%gui qt``; ``%gui`` alone goes back to inline.

        Integrations come from the ``async_kernel.gui`` entry points (``pip install
        async-kernel[gui]`` installs inline, ipympl, tk and qt). Create windows after this;
        do not start the toolkit's own loop (``mainloop()``, ``exec()``): the kernel runs it.
        """
        self._shell.enable_gui(line.strip() or None)

    def _resolve(self, gui: str) -> tuple[str, GuiIntegration]:
        wanted = gui.strip().lower()
        found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
        for name in [wanted, *sorted(found.keys() - {wanted})]:
            if name not in found:
                continue
            integration = self._loaded.get(name)
            if integration is None:
                loaded = found[name].load()
                if not isinstance(loaded, GuiIntegration):
                    log.warning("ignoring GUI entry point %r: %r is no integration", name, loaded)
                    continue
                integration = self._loaded[name] = loaded
            if name == wanted or wanted in integration.aliases:
                return name, integration
        if found:
            hint = f"available: {', '.join(sorted(found))}"
        else:
            hint = "none is installed; install them with: pip install async-kernel[gui]"
        msg = f"no GUI integration named {gui!r}; {hint}"
        raise UnknownGuiError(msg)
