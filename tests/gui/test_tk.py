"""Live Tk windows from cells over the wire, on a private X display, on asyncio and trio.

Each step opens its windows, proves the Tk loop runs alongside the kernel's (a callback
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

RED = (255, 0, 0)
BLUE = (0, 0, 255)

RED_WINDOW = """
%gui tk
import tkinter, anyio

root = tkinter.Tk()
root.geometry("240x160+40+30")
canvas = tkinter.Canvas(root, width=240, height=160, background="#ff0000", highlightthickness=0)
canvas.create_rectangle(60, 40, 180, 120, fill="#0000ff", outline="")
canvas.pack()
exposed = anyio.Event()
canvas.bind("<Expose>", lambda event: exposed.set())
with anyio.fail_after(20):
    await exposed.wait()  # the Tk loop runs while the cell awaits
root.update()  # draw what is pending and sync with the X server: the pixels are there now
(canvas.winfo_rootx(), canvas.winfo_rooty(), canvas.winfo_width(), canvas.winfo_height())
"""

TICKER = """
%gui tk
import tkinter, anyio

root = tkinter.Tk()
ticks = 0
ticked = {}

def tick():
    global ticks, job
    ticks += 1
    for target, event in list(ticked.items()):
        if ticks >= target:
            event.set()
    job = root.after(5, tick)

job = root.after(5, tick)

def close():
    root.after_cancel(job)
    root.destroy()

async def ticks_pass(count):
    \"\"\"Wait until the Tk timer has fired ``count`` more times.\"\"\"
    event = ticked[ticks + count] = anyio.Event()
    with anyio.fail_after(20):
        await event.wait()
"""


def window_is_drawn(gui_kernel: KernelHarness, display: str, tmp_path: Path) -> None:
    """A Tk window opened from a cell shows up on the display with its content drawn."""
    box = ast.literal_eval(result(gui_kernel, RED_WINDOW))
    try:
        image = screenshot(display, tmp_path / "tk.png")
        assert colours_in(image, box) == {RED, BLUE}
        left, top, width, height = box
        assert colours_in(image, (left + 60, top + 40, 120, 80)) == {BLUE}
        assert RED not in colours_in(image, (left + width, top + height, 40, 40))
    finally:
        ok(gui_kernel, "root.destroy()")


def callbacks_run_while_the_kernel_serves(gui_kernel: KernelHarness) -> None:
    """A button invoked through Tk's loop reaches Python; kernel_info and executes still run."""
    ok(gui_kernel, TICKER)
    try:
        ok(
            gui_kernel,
            "clicked = anyio.Event()\n"
            "button = tkinter.Button(root, text='go', command=clicked.set)\n"
            "button.pack()\n"
            "root.after(20, button.invoke)",  # queued in Tk's loop, run after the cell ends
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
    """Blocking and awaiting cells are interrupted; the Tk loop goes on afterwards."""
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


def matplotlib_tk_then_back_to_inline(gui_kernel: KernelHarness) -> None:
    """%matplotlib tk draws figures in Tk windows through the loop; %matplotlib inline returns."""
    ok(
        gui_kernel,
        "%matplotlib tk\n"
        "import anyio, matplotlib.pyplot as plt\n"
        "fig = plt.figure()\n"
        "drawn = anyio.Event()\n"
        "fig.canvas.mpl_connect('draw_event', lambda event: drawn.set())\n"
        "plt.plot([1, 2]);",
    )
    assert result(gui_kernel, "get_ipython().kernel.gui.active_name") == "'tk'"
    ok(gui_kernel, "with anyio.fail_after(20):\n    await drawn.wait()")  # drawn by the Tk loop
    assert result(gui_kernel, "fig.canvas.manager.window.winfo_ismapped()") == "1"

    messages = ok(gui_kernel, "%matplotlib inline\nplt.plot([1, 2]);")
    (figure,) = outputs(messages, "display_data")
    assert "image/png" in figure["data"]
    assert result(gui_kernel, "get_ipython().kernel.gui.active_name") == "'inline'"
    assert result(gui_kernel, "plt.get_fignums()") == "[]"  # the Tk figure was closed


def test_tk_windows_live_alongside_the_kernel(
    gui_kernel: KernelHarness, display: str, tmp_path: Path
) -> None:
    """%gui tk and %matplotlib tk over the wire, step by step in one kernel.

    One kernel serves every step: starting it and loading the toolkit is most of the cost.
    """
    window_is_drawn(gui_kernel, display, tmp_path)
    callbacks_run_while_the_kernel_serves(gui_kernel)
    interrupts_reach_cells(gui_kernel)
    matplotlib_tk_then_back_to_inline(gui_kernel)
