"""Plots and GUI event loops for async-kernel.

Registers four integrations in the ``async_kernel.gui`` entry-point group, which the kernel
looks up when ``%gui`` or ``%matplotlib`` asks for them: ``inline`` (the default) and
``ipympl`` draw in the notebook; ``tk`` and ``qt`` run those toolkits' events in the kernel's
main thread (``_pump``) so windows stay live while the kernel serves requests.

Layers: ``_kernel`` (what the kernel offers), ``_pump`` (the shared event pump), then one module
per toolkit: ``_matplotlib``, ``_tk``, ``_qt``.
"""

from ._matplotlib import INLINE_BACKEND as INLINE_BACKEND
from ._matplotlib import InlineIntegration as InlineIntegration
from ._matplotlib import IpymplIntegration as IpymplIntegration
from ._pump import PUMP_INTERVAL as PUMP_INTERVAL
from ._pump import EventPump as EventPump
from ._qt import QtIntegration as QtIntegration
from ._qt import find_qt_binding as find_qt_binding
from ._tk import TkIntegration as TkIntegration

INLINE = InlineIntegration()
"""The ``inline`` entry point: figures as images in the cell's output."""
IPYMPL = IpymplIntegration()
"""The ``ipympl`` entry point (also ``widget``): interactive figures over comms."""
TK = TkIntegration()
"""The ``tk`` entry point: live Tk windows."""
QT = QtIntegration()
"""The ``qt`` entry point (also ``qt5``, ``qt6``): live Qt windows."""

__all__ = [
    "INLINE",
    "INLINE_BACKEND",
    "IPYMPL",
    "PUMP_INTERVAL",
    "QT",
    "TK",
    "EventPump",
    "InlineIntegration",
    "IpymplIntegration",
    "QtIntegration",
    "TkIntegration",
    "find_qt_binding",
]


# Show public names as async_kernel_gui.X in reprs and tracebacks.
def _fix_module_names() -> None:
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith("async_kernel_gui._"):
            obj.__module__ = __name__


_fix_module_names()
