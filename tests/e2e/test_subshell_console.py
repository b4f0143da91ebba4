"""A subshell console (JEP 91) opened from a notebook answers while the notebook's cell blocks."""

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


def test_subshell_console_answers_while_the_notebook_blocks(
    page: Page, lab_server: LabServer, kernel: KernelChoice
) -> None:
    """Code typed in the subshell console runs (and reads the notebook's names) mid-cell."""
    notebook = Notebook.open(
        page,
        lab_server,
        f"subshell-console-{kernel.name}",
        [
            "shared_value = 42\nprint('ready')",
            "import time\nprint('blocking', flush=True)\ntime.sleep(600)",
        ],
        kernel,
    )
    expect(notebook.run_and_wait(0)).to_have_text("ready")

    # Lab offers the menu item once kernel_info lists "kernel subshells"; open the console
    # before the main shell is busy, as a user would.
    notebook.cell(0).click(button="right")
    page.locator(".lm-Menu").get_by_text("New Subshell Console for Notebook", exact=True).click()
    console = page.locator(".jp-CodeConsole")
    prompt = console.locator(".jp-CodeConsole-promptCell .jp-InputArea-editor")
    expect(prompt).to_be_visible()
    # The banner comes from the console's kernel_info_reply: its kernel connection is ready.
    expect(console.locator(".jp-CodeConsole-banner")).to_contain_text(f"({kernel.backend})")

    notebook.run(1)
    expect(notebook.output(1)).to_have_text("blocking")

    prompt.click()
    page.keyboard.type("print('subshell sees', shared_value)")
    page.keyboard.press("Shift+Enter")
    answered = console.locator(".jp-CodeConsole-content .jp-OutputArea")
    expect(answered).to_contain_text("subshell sees 42")
    notebook.expect_running(1)

    notebook.interrupt()
    notebook.expect_finished(1)
    expect(notebook.output(1)).to_contain_text("KeyboardInterrupt")
    notebook.expect_kernel_status("Idle")
