"""Choosing the async kernel in JupyterLab's launcher, as a new user would."""

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


def test_launcher_starts_a_notebook_on_the_async_kernel(
    page: Page, lab_server: LabServer, kernel: KernelChoice
) -> None:
    """The launcher lists the kernel; its notebook runs typed code on the chosen backend."""
    page.goto(lab_server.lab_url())
    card = page.locator(
        f'.jp-LauncherCard[data-category="Notebook"][title="{kernel.display_name}"]'
    )
    card.click()
    notebook = Notebook(page, kernel)
    notebook.expect_kernel_status("Idle")

    notebook.cell(0).locator(".jp-InputArea-editor").click()
    page.keyboard.type("import sniffio; print('running on', sniffio.current_async_library())")
    page.keyboard.press("Control+Enter")
    notebook.expect_finished(0)
    expect(notebook.output(0)).to_have_text(f"running on {kernel.backend}")
    notebook.expect_kernel_status("Idle")
