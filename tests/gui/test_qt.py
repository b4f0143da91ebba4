"""Live Qt windows (PySide6) from cells over the wire, on a private X display, on both backends.

Each step opens its windows, proves Qt's events run alongside the kernel's loop (a callback
reaches Python while the kernel answers other requests) and closes them again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.gui.live_loop import Toolkit, run_every_step

if TYPE_CHECKING:
    from pathlib import Path

    from tests.kernel_fixtures import KernelHarness

GREEN_WINDOW = """
%gui qt
import anyio
from PySide6 import QtCore, QtGui, QtWidgets

class Painted(QtWidgets.QWidget):
    def __init__(self):
        super().__init__()
        self.painted = anyio.Event()

    def paintEvent(self, event):
        painter = QtGui.QPainter(self)
        painter.fillRect(self.rect(), QtGui.QColor(0, 255, 0))
        painter.fillRect(60, 40, 120, 80, QtGui.QColor(0, 0, 255))
        painter.end()
        self.painted.set()

window = Painted()
window.setGeometry(40, 30, 240, 160)
window.show()
with anyio.fail_after(20):
    await window.painted.wait()  # Qt's events run while the cell awaits
QtWidgets.QApplication.processEvents()  # flush the painted backing store to the window
# A round trip on Qt's X connection: the server has drawn everything sent before it.
QtGui.QGuiApplication.primaryScreen().grabWindow(0, 0, 0, 1, 1)
corner = window.mapToGlobal(QtCore.QPoint(0, 0))
(corner.x(), corner.y(), window.width(), window.height())
"""

TICKER = """
%gui qt6
from PySide6 import QtCore, QtWidgets

window = QtWidgets.QWidget()
window.show()
timer = QtCore.QTimer()
timer.timeout.connect(count_tick)
timer.start(5)

def close():
    timer.stop()
    window.close()
"""

QT = Toolkit(
    name="qt",
    window=GREEN_WINDOW,
    colour=(0, 255, 0),
    close_window="window.close()",
    ticker=TICKER,
    click_soon=(
        "button = QtWidgets.QPushButton('go', window)\n"
        "button.clicked.connect(lambda: clicked.set())\n"
        "button.show()\n"
        "QtCore.QTimer.singleShot(20, button.click)"  # runs in Qt's loop after the cell
    ),
    figure_shown=("fig.canvas.manager.window.isVisible()", "True"),
)


def test_qt_windows_live_alongside_the_kernel(
    gui_kernel: KernelHarness, display: str, tmp_path: Path
) -> None:
    """%gui qt and %matplotlib qt over the wire, step by step in one kernel.

    One kernel serves every step: starting it and loading the toolkit is most of the cost.
    """
    run_every_step(gui_kernel, QT, display, tmp_path)
