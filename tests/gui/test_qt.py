"""Live Qt windows (PySide6) from cells over the wire, on a private X display, on both backends.

Each step opens its windows, proves Qt's events run alongside the kernel's loop (a callback
reaches Python while the kernel answers other requests) and closes them again.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from tests.gui.display import colours_in, screenshot
from tests.gui.helpers import ok, result
from tests.kernel_fixtures import outputs

if TYPE_CHECKING:
    from pathlib import Path

    from tests.kernel_fixtures import KernelHarness

GREEN = (0, 255, 0)
BLUE = (0, 0, 255)

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
import anyio
from PySide6 import QtCore, QtWidgets

window = QtWidgets.QWidget()
window.show()
ticks = 0
ticked = {}

def tick():
    global ticks
    ticks += 1
    for target, event in list(ticked.items()):
        if ticks >= target:
            event.set()

timer = QtCore.QTimer()
timer.timeout.connect(tick)
timer.start(5)

def close():
    timer.stop()
    window.close()

async def ticks_pass(count):
    \"\"\"Wait until the Qt timer has fired ``count`` more times.\"\"\"
    event = ticked[ticks + count] = anyio.Event()
    with anyio.fail_after(20):
        await event.wait()
"""


def window_is_drawn(gui_kernel: KernelHarness, display: str, tmp_path: Path) -> None:
    """A Qt window opened from a cell shows up on the display with its content drawn."""
    box = ast.literal_eval(result(gui_kernel, GREEN_WINDOW))
    try:
        image = screenshot(display, tmp_path / "qt.png")
        assert colours_in(image, box) == {GREEN, BLUE}
        left, top, width, height = box
        assert colours_in(image, (left + 60, top + 40, 120, 80)) == {BLUE}
        assert GREEN not in colours_in(image, (left + width, top + height, 40, 40))
    finally:
        ok(gui_kernel, "window.close()")


def callbacks_run_while_the_kernel_serves(gui_kernel: KernelHarness) -> None:
    """A button clicked through Qt's loop reaches Python; kernel_info and executes still run."""
    ok(gui_kernel, TICKER)
    try:
        ok(
            gui_kernel,
            "clicked = anyio.Event()\n"
            "button = QtWidgets.QPushButton('go', window)\n"
            "button.clicked.connect(lambda: clicked.set())\n"
            "button.show()\n"
            "QtCore.QTimer.singleShot(20, button.click)",  # runs in Qt's loop after the cell
        )
        info = gui_kernel.reply_for(gui_kernel.client.kernel_info())
        assert info["content"]["status"] == "ok"
        ok(gui_kernel, "with anyio.fail_after(20):\n    await clicked.wait()")
        before = int(result(gui_kernel, "ticks"))
        ok(gui_kernel, "await ticks_pass(3)")
        assert int(result(gui_kernel, "ticks")) >= before + 3
    finally:
        ok(gui_kernel, "close()")


def interrupts_reach_cells(gui_kernel: KernelHarness) -> None:
    """Blocking and awaiting cells are interrupted; Qt's loop goes on afterwards."""
    ok(gui_kernel, TICKER)
    try:
        for cell in ("import time\ntime.sleep(60)", "await ticks_pass(3)\nawait anyio.sleep(60)"):
            msg_id = gui_kernel.client.execute(cell)
            gui_kernel.iopub_for_started(msg_id)
            interrupt = gui_kernel.send("control", "interrupt_request", {})
            assert gui_kernel.reply_for(interrupt, "control")["content"]["status"] == "ok"
            reply = gui_kernel.reply_for(msg_id)
            assert reply["content"]["status"] == "error"
            assert reply["content"]["ename"] == "KeyboardInterrupt"
            gui_kernel.iopub_for(msg_id)
        ok(gui_kernel, "await ticks_pass(3)")
    finally:
        ok(gui_kernel, "close()")


def matplotlib_qt_then_back_to_inline(gui_kernel: KernelHarness) -> None:
    """%matplotlib qt draws figures in Qt windows through the loop; %matplotlib inline returns."""
    ok(
        gui_kernel,
        "%matplotlib qt\n"
        "import anyio, matplotlib.pyplot as plt\n"
        "fig = plt.figure()\n"
        "drawn = anyio.Event()\n"
        "fig.canvas.mpl_connect('draw_event', lambda event: drawn.set())\n"
        "plt.plot([1, 2]);",
    )
    assert result(gui_kernel, "get_ipython().kernel.gui.active_name") == "'qt'"
    ok(gui_kernel, "with anyio.fail_after(20):\n    await drawn.wait()")  # drawn by Qt's loop
    assert result(gui_kernel, "fig.canvas.manager.window.isVisible()") == "True"

    messages = ok(gui_kernel, "%matplotlib inline\nplt.plot([1, 2]);")
    (figure,) = outputs(messages, "display_data")
    assert "image/png" in figure["data"]
    assert result(gui_kernel, "get_ipython().kernel.gui.active_name") == "'inline'"
    assert result(gui_kernel, "plt.get_fignums()") == "[]"  # the Qt figure was closed


def test_qt_windows_live_alongside_the_kernel(
    gui_kernel: KernelHarness, display: str, tmp_path: Path
) -> None:
    """%gui qt and %matplotlib qt over the wire, step by step in one kernel.

    One kernel serves every step: starting it and loading the toolkit is most of the cost.
    """
    window_is_drawn(gui_kernel, display, tmp_path)
    callbacks_run_while_the_kernel_serves(gui_kernel)
    interrupts_reach_cells(gui_kernel)
    matplotlib_qt_then_back_to_inline(gui_kernel)
