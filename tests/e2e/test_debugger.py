"""JupyterLab's debugger on the async kernel: a breakpoint from the gutter, the stopped line, variables.

It runs on the browser harness of ``tests/e2e`` (JupyterLab server, Chromium, notebook helpers)
and is skipped where that harness is not installed.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

expect: Any = pytest.importorskip(
    "playwright.sync_api", reason="the browser tests need playwright (the dev group has it)"
).expect
Notebook: Any = pytest.importorskip(
    "tests.e2e._notebook", reason="the browser test harness (tests/e2e/_notebook.py) is missing"
).Notebook

pytestmark = pytest.mark.xdist_group("e2e")


def test_breakpoint_stops_the_cell_and_shows_its_variables(
    page: Any, lab_server: Any, kernel: Any
) -> None:
    """A breakpoint clicked in the gutter stops the cell there; the panel shows its variables."""
    notebook = Notebook.open(
        page,
        lab_server,
        f"debugger-{kernel.name}",
        [
            "marker = 'set before the debugger'",
            "value = 41\nresult = value + 1\nprint('result', result)",
        ],
        kernel,
    )
    notebook.run_and_wait(0)
    switch = page.locator(".jp-NotebookPanel-toolbar .jp-DebuggerBugButton")
    switch.click()
    expect(switch).to_have_attribute("aria-pressed", "true")
    sidebar = page.locator("#jp-debugger-sidebar")
    tab = page.locator('.jp-SideBar.jp-mod-right li[data-id="jp-debugger-sidebar"]')
    # Open the panel once it is not open yet: Lab may open it itself as debugging starts, and
    # a second click would close it again.
    expect(tab).to_be_visible()
    if tab.get_attribute("aria-selected") != "true":
        tab.click()
    expect(sidebar).to_be_visible()
    # The kernel's variables (inspectVariables) show once the debug session has started.
    variables = sidebar.locator(".jp-DebuggerVariables-body:visible")
    expect(variables).to_contain_text("marker")

    # The gutter's first element is CodeMirror's hidden spacer; line 2 is the third.
    notebook.cell(1).locator(".cm-breakpoint-gutter .cm-gutterElement").nth(2).click()
    expect(sidebar.locator(".jp-DebuggerBreakpoint")).to_have_count(1)

    notebook.run(1)
    notebook.expect_running(1)
    stopped_line = notebook.cell(1).locator(".jp-DebuggerEditor-highlight")
    expect(stopped_line).to_have_text("result = value + 1")
    expect(sidebar.locator(".jp-DebuggerCallstackFrame")).to_have_count(1)
    expect(variables.get_by_role("treeitem", name="value: 41")).to_be_visible()
    # Line 2 has not run yet.
    expect(variables.get_by_role("treeitem", name=re.compile(r"^result:"))).to_have_count(0)

    sidebar.locator('jp-button[title^="Continue"]').click()
    notebook.expect_finished(1)
    expect(notebook.output(1)).to_have_text("result 42")
