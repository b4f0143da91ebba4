"""Live Tk windows from cells over the wire, on a private X display, on asyncio and trio.

Each step opens its windows, proves the Tk loop runs alongside the kernel's (a callback
reaches Python while the kernel answers other requests) and closes them again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.gui.live_loop import Toolkit, run_every_step

if TYPE_CHECKING:
    from pathlib import Path

    from tests.kernel_fixtures import KernelHarness

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
import tkinter

root = tkinter.Tk()

def tick():
    global job
    count_tick()
    job = root.after(5, tick)

job = root.after(5, tick)

def close():
    root.after_cancel(job)
    root.destroy()
"""

TK = Toolkit(
    name="tk",
    window=RED_WINDOW,
    colour=(255, 0, 0),
    close_window="root.destroy()",
    ticker=TICKER,
    click_soon=(
        "button = tkinter.Button(root, text='go', command=clicked.set)\n"
        "button.pack()\n"
        "root.after(20, button.invoke)"  # queued in Tk's loop, run after the cell ends
    ),
    figure_shown=("fig.canvas.manager.window.winfo_ismapped()", "1"),
)


def test_tk_windows_live_alongside_the_kernel(
    gui_kernel: KernelHarness, display: str, tmp_path: Path
) -> None:
    """%gui tk and %matplotlib tk over the wire, step by step in one kernel.

    One kernel serves every step: starting it and loading the toolkit is most of the cost.
    """
    run_every_step(gui_kernel, TK, display, tmp_path)
