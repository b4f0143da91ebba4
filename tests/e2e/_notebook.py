"""What a test does in JupyterLab's notebook view, as a user would: click, type, read the page.

Every wait is Playwright's auto-retrying ``expect`` on what the page shows (a prompt number,
an output, the kernel status in the status bar), bounded by its timeout; no fixed sleeps.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    from ._lab_server import KernelChoice, LabServer

FINISHED_PROMPT = re.compile(r"^\[\d+\]:$")
"""A code cell's input prompt once its execute_reply came back: ``[3]:``."""

RUNNING_PROMPT = "[*]:"
"""A code cell's input prompt while it is queued or running."""


class Notebook:
    """One open notebook in a page: its cells, toolbar and the kernel status in the status bar."""

    def __init__(self, page: Page, kernel: KernelChoice) -> None:
        self.page = page
        self.kernel = kernel

    @classmethod
    def open(
        cls, page: Page, server: LabServer, name: str, cells: list[str], kernel: KernelChoice
    ) -> Notebook:
        """Write a notebook, open it in ``page`` and wait until its kernel is idle."""
        file_name = server.write_notebook(name, cells, kernel)
        page.goto(server.lab_url(f"tree/{file_name}"))
        notebook = cls(page, kernel)
        notebook.expect_kernel_status("Idle")
        return notebook

    # --- reading the page ----------------------------------------------------------------

    def cell(self, index: int) -> Locator:
        """The notebook's cell at ``index`` (0-based)."""
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    def output(self, index: int) -> Locator:
        """The output area of cell ``index``: all its outputs, as the page shows them."""
        return self.cell(index).locator(".jp-Cell-outputArea")

    def prompt(self, index: int) -> Locator:
        """The input prompt of cell ``index`` (``[ ]:``, ``[*]:`` or ``[n]:``)."""
        return self.cell(index).locator(".jp-InputPrompt")

    def expect_finished(self, index: int) -> None:
        """Wait until cell ``index`` shows an execution count: its reply has arrived."""
        expect(self.prompt(index)).to_have_text(FINISHED_PROMPT)

    def expect_running(self, index: int) -> None:
        """Check that cell ``index`` is still waiting for its reply."""
        expect(self.prompt(index)).to_have_text(RUNNING_PROMPT)

    def expect_kernel_status(self, status: str) -> None:
        """Wait until the status bar shows this kernel with ``status`` (``Idle``, ``Busy``)."""
        bar = self.page.locator("#jp-main-statusbar")
        expect(bar).to_contain_text(f"{self.kernel.display_name} | {status}")

    # --- acting on it --------------------------------------------------------------------

    def run(self, index: int) -> None:
        """Run cell ``index`` in place (click into it, then Ctrl+Enter)."""
        self.cell(index).locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Control+Enter")

    def run_and_wait(self, index: int) -> Locator:
        """Run cell ``index``, wait for its reply and return its output area."""
        self.run(index)
        self.expect_finished(index)
        return self.output(index)

    def toolbar_button(self, command: str) -> Locator:
        """The notebook toolbar's button for a Lab command (``notebook:interrupt-kernel``)."""
        return self.page.locator(f'.jp-NotebookPanel-toolbar [data-command="{command}"]')

    def interrupt(self) -> None:
        """Press the toolbar's interrupt button."""
        self.toolbar_button("notebook:interrupt-kernel").click()

    def restart(self) -> None:
        """Press the toolbar's restart button, confirm, and wait until the new kernel is idle.

        The status bar leaves ``Idle`` while Lab asks the server to restart (which takes as long
        as a kernel start), then shows ``Idle`` again once the new kernel answers.
        """
        self.toolbar_button("notebook:restart-kernel").click()
        dialog = self.page.locator(".jp-Dialog")
        accept = dialog.locator("button.jp-mod-accept")
        expect(accept).to_have_text("Restart")
        accept.click()
        expect(dialog).to_have_count(0)
        bar = self.page.locator("#jp-main-statusbar")
        expect(bar).not_to_contain_text(f"{self.kernel.display_name} | Idle")
        self.expect_kernel_status("Idle")
