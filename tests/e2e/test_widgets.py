"""ipywidgets in JupyterLab on the async kernel, with Lab's default ``commsOverSubshells``.

Once the kernel advertises ``kernel subshells``, Lab 4.4+ creates a subshell per comm target
and sends widget messages through it. The kernel runs each comm's callbacks in the shell that
created the comm, so a cell can await a widget event while the widget keeps working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from ._lab_server import KERNELS
from ._notebook import Notebook

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from ._lab_server import KernelChoice, LabServer

# A scenario waits for a browser, a server and kernels on a loaded 2-core machine.
pytestmark = pytest.mark.timeout(120)

_SLIDER = """\
import ipywidgets as widgets
kernel = get_ipython().kernel
def subshell_of_request():
    return kernel.get_parent()['header'].get('subshell_id')
slider = widgets.IntSlider(value=3, description='level')
echo = widgets.Label('kernel has not seen a change')
slider_via = []
def on_value(change):
    slider_via.append(subshell_of_request())
    echo.value = f'kernel sees {change.new}'
slider.observe(on_value, 'value')
widgets.VBox([slider, echo])"""

_SET_FROM_KERNEL = "slider.value = 5"

_KERNEL_SETTINGS = "@jupyterlab/apputils-extension/kernels-settings"
"""The Lab settings plugin that holds ``commsOverSubshells``."""

_AWAIT_CLICK = """\
import anyio
button = widgets.Button(description='Go')
clicked = anyio.Event()
click_via = []
def on_click(_):
    click_via.append(subshell_of_request())
    clicked.set()
button.on_click(on_click)
display(button)
await clicked.wait()
print('clicked at level', slider.value)
print('click came through a subshell:', click_via[0] in kernel.subshells.ids())
print('the same one as the slider change:', click_via[0] == slider_via[-1])"""


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
    _check_slider_and_awaited_click(notebook, through_subshell=True, one_subshell=True)


@pytest.mark.parametrize(
    ("setting", "through_subshell", "one_subshell"),
    [
        pytest.param("perComm", True, False, id="perComm"),
        pytest.param("disabled", False, True, id="disabled"),
    ],
)
def test_widgets_with_other_comms_over_subshells_settings(
    page: Page, lab_server: LabServer, setting: str, through_subshell: bool, one_subshell: bool
) -> None:
    """Widgets work with a subshell per comm, and with comms over subshells turned off.

    With ``perComm`` the slider's and the button's messages come through different subshells;
    with ``disabled`` both come to the main shell.

    Asyncio only: how comms are routed does not depend on the backend, and the default
    setting runs on both.
    """
    kernel = KERNELS["asyncio"]
    cells = [_SLIDER, _SET_FROM_KERNEL, _AWAIT_CLICK]
    with lab_server.user_settings(_KERNEL_SETTINGS, {"commsOverSubshells": setting}):
        notebook = Notebook.open(page, lab_server, f"widgets-{setting}", cells, kernel)
    _check_slider_and_awaited_click(
        notebook, through_subshell=through_subshell, one_subshell=one_subshell
    )


def _check_slider_and_awaited_click(
    notebook: Notebook, *, through_subshell: bool, one_subshell: bool
) -> None:
    """Run the three widget cells and check the page, moving the slider and clicking.

    Args:
        notebook: The open notebook holding the three widget cells.
        through_subshell: Whether the click must come through a subshell, not the main shell.
        one_subshell: Whether the slider change and the click must come through the same shell.
    """
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
    expect(notebook.output(2)).to_contain_text(f"click came through a subshell: {through_subshell}")
    notebook.expect_kernel_status("Idle")
