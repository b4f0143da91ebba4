"""The steps that prove a toolkit's event loop lives alongside the kernel's, over the wire.

Each toolkit test (Qt, Tk) describes its toolkit with a :class:`Toolkit`: the cells that open
a window, run a timer and click a button in that toolkit. The steps here are the same for
every toolkit; one kernel runs them all, since starting it and loading the toolkit is most of
the cost.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tests.gui.display import colours_in, screenshot
from tests.gui.helpers import ok, result
from tests.kernel_fixtures import outputs

if TYPE_CHECKING:
    from pathlib import Path

    from tests.kernel_fixtures import KernelHarness

BLUE = (0, 0, 255)

TICK_COUNTER = """
import anyio

ticks = 0
ticked = {}

def count_tick():
    \"\"\"Count one tick of the toolkit's timer (called in the toolkit's loop).\"\"\"
    global ticks
    ticks += 1
    for target, event in list(ticked.items()):
        if ticks >= target:
            event.set()

async def ticks_pass(count):
    \"\"\"Wait until the toolkit's timer has ticked ``count`` more times.\"\"\"
    event = ticked[ticks + count] = anyio.Event()
    with anyio.fail_after(20):
        await event.wait()
"""
"""Defines ``count_tick()``, which a toolkit's timer calls, and ``await ticks_pass(count)``."""


@dataclass(frozen=True)
class Toolkit:
    """What the steps need to know of one GUI toolkit."""

    name: str
    """The name ``%gui`` and ``%matplotlib`` take."""
    window: str
    """A cell that opens a window filled with ``colour`` with a blue rectangle at (60, 40),
    120x80, waits until it is drawn, and returns its box on the screen."""
    colour: tuple[int, int, int]
    close_window: str
    """Closes what ``window`` opened."""
    ticker: str
    """A cell that starts a toolkit timer calling ``count_tick()`` (see :data:`TICK_COUNTER`)
    and defines ``close()``."""
    click_soon: str
    """Makes a button that sets the event ``clicked``, clicked from the toolkit's loop soon."""
    figure_shown: tuple[str, str]
    """An expression telling that the figure's window is on screen, and its value then."""


def window_is_drawn(kernel: KernelHarness, toolkit: Toolkit, display: str, tmp_path: Path) -> None:
    """A window opened from a cell shows up on the display with its content drawn."""
    box = ast.literal_eval(result(kernel, toolkit.window))
    try:
        image = screenshot(display, tmp_path / f"{toolkit.name}.png")
        assert colours_in(image, box) == {toolkit.colour, BLUE}
        left, top, width, height = box
        assert colours_in(image, (left + 60, top + 40, 120, 80)) == {BLUE}
        assert toolkit.colour not in colours_in(image, (left + width, top + height, 40, 40))
    finally:
        ok(kernel, toolkit.close_window)


def callbacks_run_while_the_kernel_serves(kernel: KernelHarness, toolkit: Toolkit) -> None:
    """A button clicked through the toolkit's loop reaches Python; requests still run."""
    ok(kernel, TICK_COUNTER)
    ok(kernel, toolkit.ticker)
    try:
        ok(kernel, "clicked = anyio.Event()\n" + toolkit.click_soon)
        info = kernel.reply_for(kernel.client.kernel_info())
        assert info["content"]["status"] == "ok"
        ok(kernel, "with anyio.fail_after(20):\n    await clicked.wait()")
        before = int(result(kernel, "ticks"))
        ok(kernel, "await ticks_pass(3)")
        assert int(result(kernel, "ticks")) >= before + 3
    finally:
        ok(kernel, "close()")


def interrupts_reach_cells(kernel: KernelHarness, toolkit: Toolkit) -> None:
    """Blocking and awaiting cells are interrupted; the toolkit's loop goes on afterwards."""
    ok(kernel, TICK_COUNTER)
    ok(kernel, toolkit.ticker)
    try:
        for cell in ("import time\ntime.sleep(60)", "await ticks_pass(3)\nawait anyio.sleep(60)"):
            msg_id = kernel.client.execute(cell)
            kernel.iopub_for_started(msg_id)
            interrupt = kernel.send("control", "interrupt_request", {})
            assert kernel.reply_for(interrupt, "control")["content"]["status"] == "ok"
            reply = kernel.reply_for(msg_id)
            assert reply["content"]["status"] == "error"
            assert reply["content"]["ename"] == "KeyboardInterrupt"
            kernel.iopub_for(msg_id)
        ok(kernel, "await ticks_pass(3)")
    finally:
        ok(kernel, "close()")


def matplotlib_then_back_to_inline(kernel: KernelHarness, toolkit: Toolkit) -> None:
    """``%matplotlib <toolkit>`` draws figures in windows through the loop; inline returns."""
    ok(
        kernel,
        f"%matplotlib {toolkit.name}\n"
        "import anyio, matplotlib.pyplot as plt\n"
        "fig = plt.figure()\n"
        "drawn = anyio.Event()\n"
        "fig.canvas.mpl_connect('draw_event', lambda event: drawn.set())\n"
        "plt.plot([1, 2]);",
    )
    assert result(kernel, "get_ipython().kernel.gui.active_name") == repr(toolkit.name)
    ok(kernel, "with anyio.fail_after(20):\n    await drawn.wait()")  # drawn by the loop
    expression, shown = toolkit.figure_shown
    assert result(kernel, expression) == shown

    messages = ok(kernel, "%matplotlib inline\nplt.plot([1, 2]);")
    (figure,) = outputs(messages, "display_data")
    assert "image/png" in figure["data"]
    assert result(kernel, "get_ipython().kernel.gui.active_name") == "'inline'"
    assert result(kernel, "plt.get_fignums()") == "[]"  # the toolkit's figure was closed


def run_every_step(kernel: KernelHarness, toolkit: Toolkit, display: str, tmp_path: Path) -> None:
    """All the steps above, in one kernel."""
    window_is_drawn(kernel, toolkit, display, tmp_path)
    callbacks_run_while_the_kernel_serves(kernel, toolkit)
    interrupts_reach_cells(kernel, toolkit)
    matplotlib_then_back_to_inline(kernel, toolkit)
