"""ipywidgets in JupyterLab on the async kernel, with Lab's default ``commsOverSubshells``.

Once the kernel advertises ``kernel subshells``, Lab 4.4+ creates a subshell per comm target
and sends widget messages through it. The kernel runs each comm's callbacks in the shell that
created the comm, so a cell can await a widget event while the widget keeps working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from ._notebook import Notebook

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from ._lab_server import KernelChoice, LabServer

pytestmark = pytest.mark.xdist_group("e2e")

_SLIDER = """\
import ipywidgets as widgets
slider = widgets.IntSlider(value=3, description='level')
echo = widgets.Label('kernel has not seen a change')
slider.observe(lambda change: setattr(echo, 'value', f'kernel sees {change.new}'), 'value')
widgets.VBox([slider, echo])"""

_SET_FROM_KERNEL = "slider.value = 5"

_AWAIT_CLICK = """\
import anyio
kernel = get_ipython().kernel
button = widgets.Button(description='Go')
clicked = anyio.Event()
via = []
def on_click(_):
    via.append(kernel.get_parent()['header'].get('subshell_id'))
    clicked.set()
button.on_click(on_click)
display(button)
await clicked.wait()
print('clicked at level', slider.value)
print('click came through a subshell:', via[0] in kernel.subshells.ids())"""


def test_slider_and_awaited_button_click(
    page: Page, lab_server: LabServer, kernel: KernelChoice
) -> None:
    """A slider renders and syncs both ways; a cell awaiting a click ends when it is clicked.

    The slider is moved while the main shell awaits the click: the change reaches the kernel
    (its observer updates a label) through Lab's comm subshell, then the click ends the cell.
    """
    notebook = Notebook.open(
        page,
        lab_server,
        f"widgets-{kernel.name}",
        [_SLIDER, _SET_FROM_KERNEL, _AWAIT_CLICK],
        kernel,
    )
    output = notebook.run_and_wait(0)
    readout = output.locator(".widget-readout")
    expect(readout).to_have_text("3")
    echo = output.locator("div.widget-label")
    expect(echo).to_have_text("kernel has not seen a change")

    notebook.run_and_wait(1)
    expect(readout).to_have_text("5")
    expect(echo).to_have_text("kernel sees 5")

    notebook.run(2)
    button = notebook.output(2).get_by_role("button", name="Go")
    expect(button).to_be_visible()
    notebook.expect_running(2)
    output.locator(".noUi-handle").press("ArrowRight")
    expect(readout).to_have_text("6")
    expect(echo).to_have_text("kernel sees 6")
    notebook.expect_running(2)
    button.click()
    notebook.expect_finished(2)
    expect(notebook.output(2)).to_contain_text("clicked at level 6")
    expect(notebook.output(2)).to_contain_text("click came through a subshell: True")
    notebook.expect_kernel_status("Idle")
