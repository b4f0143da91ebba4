"""Playwright's sync API in a cell: it runs its own asyncio loop (in a greenlet) in the cell's thread.

Needs Debian's Chromium, as tests/e2e does: without it the test skips with a reason, except
under CI (``CI`` set), where a missing browser fails it. Playwright never downloads a browser.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.conftest import find_chromium
from tests.kernel_fixtures import outputs, stdout_of
from tests.protocol.test_own_loops import run_where

if TYPE_CHECKING:
    from tests.kernel_fixtures import KernelHarness

pytestmark = pytest.mark.xdist_group("playwright-in-a-cell")

BROWSE = """\
from playwright.sync_api import sync_playwright
with sync_playwright() as playwright:
    browser = playwright.chromium.launch(
        executable_path={chromium!r}, args=["--disable-dev-shm-usage"]
    )
    page = browser.new_page()
    page.goto("data:text/html,<title>own loop</title><p id=greeting>hello from a data URL</p>")
    print("title:", page.title())
    text = page.inner_text("#greeting")
    browser.close()
text
"""


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's Chromium; skip without it, or fail under CI."""
    found = find_chromium()
    if found is not None:
        return found
    missing = "Playwright in a cell needs Chromium; install Debian's with: apt-get install chromium"
    if os.environ.get("CI"):
        pytest.fail(f"{missing} (CI is set, so this is an error, not a skip)", pytrace=False)
    pytest.skip(missing)


@pytest.fixture(scope="module")
def prepared(kernel: KernelHarness, chromium: str) -> dict[str, Any]:
    """The module's kernel and one subshell."""
    del chromium
    from tests.protocol.test_subshells import create_subshell

    return {"kernel": kernel, "subshell": create_subshell(kernel)}


@pytest.mark.parametrize("where", ["main", "subshell", "thread"])
def test_sync_playwright_in_a_cell(prepared: dict[str, Any], chromium: str, where: str) -> None:
    """sync_playwright() opens Chromium on a data: URL; the kernel's loop is back afterwards."""
    reply, messages = run_where(prepared, where, BROWSE.format(chromium=chromium))
    assert reply["content"]["status"] == "ok", reply["content"]
    assert stdout_of(messages) == "title: own loop\n"
    result = outputs(messages, "execute_result")[0]["data"]["text/plain"]
    assert result == repr("hello from a data URL")
    reply, messages = run_where(
        prepared,
        where,
        "import anyio, sniffio\nawait anyio.sleep(0)\nsniffio.current_async_library()",
    )
    assert reply["content"]["status"] == "ok", reply["content"]


START_STOP = """\
from playwright.sync_api import sync_playwright
playwright = sync_playwright().start()
browser = playwright.chromium.launch(executable_path={chromium!r}, args=["--disable-dev-shm-usage"])
page = browser.new_page()
page.goto("data:text/html,<title>started</title>")
title = page.title()
browser.close()
playwright.stop()
import asyncio
(title, asyncio.get_running_loop() is kernel_loop)
"""


@pytest.mark.parametrize("kernel", ["asyncio"], indirect=True)
def test_sync_playwright_start_and_stop_in_a_cell(prepared: dict[str, Any], chromium: str) -> None:
    """The start()/stop() form: the kernel's loop is hidden in between and back after stop()."""
    kernel: KernelHarness = prepared["kernel"]
    reply, _ = kernel.execute("import asyncio\nkernel_loop = asyncio.get_running_loop()")
    assert reply["content"]["status"] == "ok", reply["content"]
    reply, messages = run_where(prepared, "main", START_STOP.format(chromium=chromium))
    assert reply["content"]["status"] == "ok", reply["content"]
    result = outputs(messages, "execute_result")[0]["data"]["text/plain"]
    assert result == repr(("started", True))
