"""An ipympl figure in JupyterLab on the async kernel, with Lab's default ``commsOverSubshells``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from ._notebook import Notebook

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from ._lab_server import KernelChoice, LabServer

# A scenario waits for a browser, a server and kernels on a loaded 2-core machine.
pytestmark = pytest.mark.timeout(120)

_FIGURE = """\
%matplotlib ipympl
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(4, 3))
ax.plot([0, 1, 2], [0, 1, 4])"""

_AWAIT_FIGURE_CLICK = """\
import anyio
clicked = anyio.Event()
presses = []
def on_press(event):
    presses.append(event.inaxes is ax)
    clicked.set()
fig.canvas.mpl_connect('button_press_event', on_press)
await clicked.wait()
print('figure clicked inside the axes:', presses[0])"""


def test_figure_renders_and_a_click_ends_an_awaiting_cell(
    page: Page, lab_server: LabServer, kernel: KernelChoice
) -> None:
    """The figure draws in the page; a click on it reaches matplotlib while a cell awaits it."""
    notebook = Notebook.open(
        page, lab_server, f"ipympl-{kernel.name}", [_FIGURE, _AWAIT_FIGURE_CLICK], kernel
    )
    output = notebook.run_and_wait(0)
    # Shown once, by pyplot in interactive mode (the cell has no value to display).
    figure = output.locator(".jupyter-matplotlib-figure")
    expect(figure).to_have_count(1)
    expect(figure).to_be_visible()
    canvas = figure.locator(".jupyter-matplotlib-canvas-div")
    expect(canvas).to_be_visible()

    notebook.run(1)
    notebook.expect_running(1)
    canvas.click()  # the middle of the figure, inside the axes
    notebook.expect_finished(1)
    expect(notebook.output(1)).to_have_text("figure clicked inside the axes: True")
    notebook.expect_kernel_status("Idle")
