"""Live Tk windows: ``%gui tk`` and ``%matplotlib tk``.

Tcl keeps one event queue per thread, shared by every interpreter in it, so a private
interpreter without windows (``tkinter.Tcl()``) can serve the events of all Tk windows the user
creates, whether they come and go or ``tkinter``'s default root is destroyed. The pump drains
what is pending without waiting, up to a bound so an ``after_idle`` callback that reschedules
itself cannot hold the kernel's loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from async_kernel import GuiUnavailableError

from ._matplotlib import close_figures_of
from ._pump import EventPump

if TYPE_CHECKING:
    from ._kernel import KernelLike

__all__ = ["TkIntegration"]

MAX_EVENTS_PER_ROUND = 1000


class TkIntegration:
    """Runs Tk's events in the kernel's main thread while the kernel keeps serving."""

    aliases: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._pump: EventPump | None = None
        self._interpreter: Any = None

    def check(self) -> None:
        """Fail if this Python was built without Tk."""
        try:
            import tkinter  # noqa: F401 - only to see that it imports
        except ImportError as exc:
            msg = (
                "the tk integration needs tkinter, which this Python lacks; install Tk support "
                f"for it (on Debian: apt install python3-tk): {exc}"
            )
            raise GuiUnavailableError(msg) from exc

    def enable(self, kernel: KernelLike) -> None:
        """Start running Tk's events from the kernel's main loop (main thread)."""
        # Imported here: loading the entry point must not load Tk.
        import _tkinter
        import tkinter

        self._interpreter = tkinter.Tcl()
        tcl = self._interpreter.tk
        flags = _tkinter.ALL_EVENTS | _tkinter.DONT_WAIT

        def process_events() -> None:
            for _ in range(MAX_EVENTS_PER_ROUND):
                if not tcl.dooneevent(flags):
                    return

        self._pump = EventPump("tk", process_events)
        self._pump.start(kernel.main_caller)

    def disable(self, kernel: KernelLike) -> None:
        """Stop running Tk's events; matplotlib's Tk figures close, other windows freeze."""
        del kernel
        close_figures_of("matplotlib.backends._backend_tk")
        if self._pump is not None:
            self._pump.stop()
        self._pump = None
        self._interpreter = None
