"""Live Qt windows: ``%gui qt`` and ``%matplotlib qt`` (PySide6, PyQt6, PyQt5 or PySide2).

The binding is chosen as matplotlib chooses it, so both use the same one: one already
imported, else the one ``QT_API`` names, else the first installed of PyQt6, PySide6, PyQt5,
PySide2. Qt aborts the whole process when ``QApplication`` cannot reach a display or load its
platform plugin, which would take the kernel and its variables down; so before creating the
first ``QApplication`` a short-lived subprocess tries it, and a failure becomes an error in
the cell.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

from async_kernel import GuiError, GuiUnavailableError

from ._matplotlib import close_figures_of
from ._pump import EventPump

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._kernel import KernelLike

__all__ = ["QtIntegration", "find_qt_binding"]

BINDINGS = ("PyQt6", "PySide6", "PyQt5", "PySide2")
"""In matplotlib's order of preference."""

INSTALL = "pip install async-kernel-gui[qt]"
PROBE_TIMEOUT = 20

_PROBE = "import sys; from {binding}.QtWidgets import QApplication; QApplication(sys.argv)"


def find_qt_binding() -> str:
    """The Qt binding to use, as matplotlib would pick it.

    Raises:
        GuiUnavailableError: none is installed (or ``QT_API`` names a missing one).
    """
    for binding in BINDINGS:
        if f"{binding}.QtCore" in sys.modules:
            return binding
    qt_api = os.environ.get("QT_API", "").lower()
    by_api = {binding.lower(): binding for binding in BINDINGS}
    candidates = [by_api[qt_api]] if qt_api in by_api else list(BINDINGS)
    for binding in candidates:
        if importlib.util.find_spec(binding) is not None:
            return binding
    wanted = f"{candidates[0]} (chosen by QT_API={qt_api})" if qt_api in by_api else "PySide6"
    msg = f"the qt integration needs a Qt binding such as {wanted}; install it with: {INSTALL}"
    raise GuiUnavailableError(msg)


class QtIntegration:
    """Runs Qt's events in the kernel's main thread while the kernel keeps serving."""

    aliases: tuple[str, ...] = ("qt5", "qt6", "qtagg")

    def __init__(self) -> None:
        self._pump: EventPump | None = None
        self._app: Any = None
        self._process_events: Callable[[], None] = lambda: None
        self._probed: set[str] = set()
        """Bindings whose QApplication was seen to start in a subprocess."""

    def check(self) -> None:
        """Fail unless a Qt binding is installed and can open windows here.

        ``%matplotlib qt`` calls this before matplotlib switches backend, so a kernel without
        a display keeps its backend instead of aborting at the next figure.
        """
        binding = find_qt_binding()
        qt_widgets = _import(binding, "QtWidgets")
        if qt_widgets.QApplication.instance() is None and binding not in self._probed:
            _probe_application(binding)
            self._probed.add(binding)

    def enable(self, kernel: KernelLike) -> None:
        """Create the ``QApplication`` if needed and start running its events (main thread)."""
        self.check()
        binding = find_qt_binding()
        qt_core = _import(binding, "QtCore")
        qt_widgets = _import(binding, "QtWidgets")
        app = qt_widgets.QApplication.instance()
        if app is None:
            app = qt_widgets.QApplication([sys.argv[0] if sys.argv else "async-kernel"])
        self._app = app
        all_events = qt_core.QEventLoop.ProcessEventsFlag.AllEvents
        deferred_delete = qt_core.QEvent.Type.DeferredDelete

        def process_events() -> None:
            app.processEvents(all_events)
            # deleteLater() is otherwise only honoured by a running exec() loop.
            app.sendPostedEvents(None, deferred_delete)

        self._process_events = process_events
        self._pump = EventPump("qt", process_events)
        self._pump.start(kernel.main_caller)

    def disable(self, kernel: KernelLike) -> None:
        """Stop running Qt's events; matplotlib's Qt figures close, other windows freeze."""
        del kernel
        close_figures_of("matplotlib.backends.backend_qt")
        if self._pump is not None:
            self._pump.stop()
            self._process_events()  # let the closed figures' windows go
        self._pump = None


def _import(binding: str, module: str) -> Any:
    try:
        return importlib.import_module(f"{binding}.{module}")
    except ImportError as exc:
        msg = f"{binding} is installed but does not import ({exc}); reinstall it: {INSTALL}"
        raise GuiUnavailableError(msg) from exc


def _probe_application(binding: str) -> None:
    """Create a QApplication in a subprocess; raise if that fails instead of aborting here."""
    try:
        result = subprocess.run(
            [sys.executable, "-c", _PROBE.format(binding=binding)],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        msg = f"Qt ({binding}) did not start within {PROBE_TIMEOUT} s; is the display reachable?"
        raise GuiError(msg) from exc
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        detail = " ".join(lines[-3:]) or f"exit status {result.returncode}"
        msg = (
            f"Qt ({binding}) cannot open a window here, so the kernel did not try "
            f"(it would abort): {detail}. Check DISPLAY (or WAYLAND_DISPLAY) and Qt's system "
            "libraries (on Debian: libxcb-cursor0 and libxkbcommon-x11-0)"
        )
        raise GuiError(msg)
