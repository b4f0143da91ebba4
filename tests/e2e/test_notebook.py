"""A notebook on the async kernel in JupyterLab: what the page shows for each kind of cell."""

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


def test_print_and_top_level_await(page: Page, lab_server: LabServer, kernel: KernelChoice) -> None:
    """``print`` output and the value of a cell that awaits show under their cells."""
    notebook = Notebook.open(
        page,
        lab_server,
        f"print-await-{kernel.name}",
        [
            "print('hello from', 'the async kernel')",
            "import anyio, sniffio\nawait anyio.sleep(0)\nsniffio.current_async_library()",
        ],
        kernel,
    )
    expect(notebook.run_and_wait(0)).to_have_text("hello from the async kernel")
    expect(notebook.run_and_wait(1)).to_contain_text(f"'{kernel.backend}'")
    notebook.expect_kernel_status("Idle")


def test_display_updated_through_its_handle(
    page: Page, lab_server: LabServer, kernel: KernelChoice
) -> None:
    """``handle.update`` in a later cell replaces the first cell's display in place."""
    notebook = Notebook.open(
        page,
        lab_server,
        f"display-{kernel.name}",
        [
            "handle = display('first value', display_id=True)",
            "handle.update('updated value')\nprint('updated')",
        ],
        kernel,
    )
    expect(notebook.run_and_wait(0)).to_have_text("'first value'")
    expect(notebook.run_and_wait(1)).to_have_text("updated")
    expect(notebook.output(0)).to_have_text("'updated value'")
    notebook.expect_kernel_status("Idle")


def test_input_answered_in_the_page(
    page: Page, lab_server: LabServer, kernel: KernelChoice
) -> None:
    """``input()`` and ``getpass()`` show a box; what the user types comes back to the cell."""
    notebook = Notebook.open(
        page,
        lab_server,
        f"input-{kernel.name}",
        [
            "name = input('Your name: ')\nprint('hello', name)",
            "from getpass import getpass\nsecret = getpass('Secret: ')\nprint(len(secret), 'chars')",
        ],
        kernel,
    )
    notebook.run(0)
    box = notebook.cell(0).locator("input.jp-Stdin-input")
    box.fill("Ada")
    box.press("Enter")
    notebook.expect_finished(0)
    expect(notebook.output(0)).to_contain_text("Your name: Ada")
    expect(notebook.output(0)).to_contain_text("hello Ada")

    notebook.run(1)
    box = notebook.cell(1).locator("input.jp-Stdin-input")
    expect(box).to_have_attribute("type", "password")
    box.fill("hunter2")
    box.press("Enter")
    notebook.expect_finished(1)
    expect(notebook.output(1)).to_contain_text("7 chars")
    expect(notebook.output(1)).not_to_contain_text("hunter2")
    notebook.expect_kernel_status("Idle")


def test_interrupt_button_stops_a_cell(
    page: Page, lab_server: LabServer, kernel: KernelChoice
) -> None:
    """The toolbar's interrupt stops a blocking cell and an awaiting one; the next cell runs."""
    notebook = Notebook.open(
        page,
        lab_server,
        f"interrupt-{kernel.name}",
        [
            "import time\nprint('blocking', flush=True)\ntime.sleep(600)",
            "print('ran after the blocking cell')",
            "import anyio\nprint('awaiting', flush=True)\nawait anyio.sleep(600)",
            "print('ran after the awaiting cell')",
        ],
        kernel,
    )
    for stopped, following in ((0, 1), (2, 3)):
        notebook.run(stopped)
        expect(notebook.output(stopped)).to_contain_text(("blocking", "awaiting")[stopped // 2])
        notebook.expect_kernel_status("Busy")
        notebook.interrupt()
        notebook.expect_finished(stopped)
        expect(notebook.output(stopped)).to_contain_text("KeyboardInterrupt")
        expect(notebook.run_and_wait(following)).to_have_text(
            f"ran after the {('blocking', 'awaiting')[stopped // 2]} cell"
        )
    notebook.expect_kernel_status("Idle")


def test_restart_clears_the_namespace(
    page: Page, lab_server: LabServer, kernel: KernelChoice
) -> None:
    """After the toolbar's restart, the kernel is new: names are gone and counting starts at 1."""
    notebook = Notebook.open(
        page,
        lab_server,
        f"restart-{kernel.name}",
        ["remembered = 1\nprint('set')", "print('remembered' in globals())"],
        kernel,
    )
    expect(notebook.run_and_wait(0)).to_have_text("set")
    expect(notebook.run_and_wait(1)).to_have_text("True")
    notebook.restart()
    expect(notebook.run_and_wait(1)).to_have_text("False")
    expect(notebook.prompt(1)).to_have_text("[1]:")
    notebook.expect_kernel_status("Idle")


def test_task_cell_lets_the_next_cell_finish_first(
    page: Page, lab_server: LabServer, kernel: KernelChoice
) -> None:
    """A ``# task`` cell waits in the background while the cells after it run and finish."""
    notebook = Notebook.open(
        page,
        lab_server,
        f"task-{kernel.name}",
        [
            "import anyio\nrelease = anyio.Event()",
            "# task\nprint('task started', flush=True)\nawait release.wait()\nprint('task done')",
            "print('next cell done')",
            "release.set()",
        ],
        kernel,
    )
    notebook.run_and_wait(0)
    notebook.run(1)
    expect(notebook.output(1)).to_have_text("task started")
    expect(notebook.run_and_wait(2)).to_have_text("next cell done")
    notebook.expect_running(1)
    notebook.run_and_wait(3)
    notebook.expect_finished(1)
    expect(notebook.output(1)).to_have_text("task started\ntask done")
    notebook.expect_kernel_status("Idle")


def test_run_all_stops_at_an_error(page: Page, lab_server: LabServer, kernel: KernelChoice) -> None:
    """Run > Run All Cells: the cell after a failing one is aborted and shows no count.

    The kernel once gave the aborted reply the next execution count, which Lab showed as the
    prompt of a cell that never ran.
    """
    notebook = Notebook.open(
        page,
        lab_server,
        f"run-all-{kernel.name}",
        ["print('first')", "1 / 0", "print('must not run')", "print('runs later')"],
        kernel,
    )
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    notebook.expect_finished(1)
    expect(notebook.output(0)).to_have_text("first")
    expect(notebook.output(1)).to_contain_text("ZeroDivisionError")
    expect(notebook.prompt(2)).to_have_text("[ ]:")
    expect(notebook.prompt(3)).to_have_text("[ ]:")
    notebook.expect_kernel_status("Idle")
    expect(notebook.output(2)).to_have_text("")
    expect(notebook.run_and_wait(3)).to_have_text("runs later")
    expect(notebook.prompt(3)).to_have_text("[3]:")
