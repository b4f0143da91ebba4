"""Fixtures for the browser tests: one JupyterLab server per session, a headless Chromium per module.

The browser is Debian's ``chromium`` driven by Playwright with its executable path set (Playwright's
own browser downloads cannot be fetched here). Without it the tests skip with a reason that says
what is missing, except under CI (``CI`` set), where a missing browser fails them.

One xdist worker runs all of them against one server while the other workers run the rest of
the suite (``pytest_xdist_make_scheduler`` in ``tests/conftest.py`` groups ``tests/e2e/``).
Each test gets a fresh browser context and page; its kernels are shut down when it ends. A
failing test leaves a screenshot, the browser console log, its kernel messages and the server's
log (with the kernels' stderr) in :data:`ARTIFACTS`, and the report names the files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

from ._lab_server import KERNELS, KernelChoice, LabServer
from ._wire_log import WireLog

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page

BROWSER_ENV = "ASYNC_KERNEL_E2E_CHROMIUM"
"""Environment variable naming a Chromium binary to use instead of the one on PATH."""

ARTIFACTS = Path(
    os.environ.get("ASYNC_KERNEL_E2E_ARTIFACTS", Path(tempfile.gettempdir()) / "async-kernel-e2e")
)
"""Where failure screenshots and console logs go."""

EXPECT_TIMEOUT_MS = 30_000
"""How long a check of the page waits for it to show what is expected (a loaded 2-core box)."""

_console_logs: dict[str, list[str]] = {}
"""Browser console lines of the running test, by test node id, for the failure report."""

_wire_logs: dict[str, WireLog] = {}
"""The kernel messages of the running test's page, by test node id, for the failure report."""


def find_chromium() -> str | None:
    """The Chromium binary to drive: ``$ASYNC_KERNEL_E2E_CHROMIUM``, else one on PATH."""
    configured = os.environ.get(BROWSER_ENV)
    if configured:
        return configured if Path(configured).is_file() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _missing_chromium() -> str:
    """Why no browser was found, and how to get one."""
    configured = os.environ.get(BROWSER_ENV)
    where = f"{BROWSER_ENV}={configured} is not a file" if configured else "no chromium on PATH"
    return (
        f"e2e browser tests need Chromium ({where}); install Debian's with: "
        "apt-get install chromium"
    )


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium; skip the e2e tests without it, or fail them under CI."""
    found = find_chromium()
    if found is not None:
        return found
    missing = _missing_chromium()
    if os.environ.get("CI"):
        pytest.fail(f"{missing} (CI is set, so this is an error, not a skip)", pytrace=False)
    pytest.skip(missing)


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    """A headless Chromium for one test module.

    Not for the session: Playwright's sync API keeps its asyncio loop marked as running in the
    main thread while it is open, so every later test in that xdist worker would find "another
    loop running" (anyio's asyncio runner then fails to close, and jupyter_client's blocking
    calls take another path). Closing it with the module ends that before other tests run.
    """
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, args=["--disable-dev-shm-usage"]
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def lab_server(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """One JupyterLab server for the session, with isolated state and our kernel specs.

    It asks for ``chromium_path`` only so that no server starts when the tests skip.
    """
    del chromium_path
    server = LabServer(tmp_path_factory.mktemp("jupyterlab"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(browser: Browser, lab_server: LabServer, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser page; the kernels the test started are shut down after it."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    page = context.new_page()
    console = _console_logs.setdefault(request.node.nodeid, [])
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    wire_log = _wire_logs.setdefault(request.node.nodeid, WireLog())
    wire_log.watch(page)
    try:
        yield page
    finally:
        context.close()
        _shut_down_sessions(lab_server)
        _console_logs.pop(request.node.nodeid, None)
        _wire_logs.pop(request.node.nodeid, None)


@pytest.fixture(params=[pytest.param(backend, id=backend) for backend in KERNELS])
def kernel(request: pytest.FixtureRequest) -> KernelChoice:
    """The kernel spec a test opens its notebook with: one per backend."""
    return KERNELS[request.param]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Save a screenshot and the console log of a failing test's page; name them in the report."""
    outcome: Any = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    page: Page | None = getattr(item, "funcargs", {}).get("page")
    if page is None or page.is_closed():
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^\w.-]+", "_", item.nodeid)
    screenshot = ARTIFACTS / f"{stem}.png"
    log = ARTIFACTS / f"{stem}.console.txt"
    try:
        page.screenshot(path=str(screenshot))
    except PlaywrightError as error:  # a crashed page: the report must still come out
        report.sections.append(("e2e screenshot", f"could not take a screenshot: {error}"))
    else:
        report.sections.append(("e2e screenshot", str(screenshot)))
    log.write_text("\n".join(_console_logs.get(item.nodeid, [])), encoding="utf-8")
    report.sections.append(("e2e browser console", str(log)))
    wire_log = _wire_logs.get(item.nodeid)
    if wire_log is not None:
        messages = ARTIFACTS / f"{stem}.messages.txt"
        messages.write_text("\n".join(wire_log.lines), encoding="utf-8")
        report.sections.append(("e2e kernel messages", str(messages)))
    server: LabServer | None = getattr(item, "funcargs", {}).get("lab_server")
    if server is not None and server.log.exists():
        # The server's log holds its kernels' stderr too: their warnings and tracebacks.
        server_log = ARTIFACTS / f"{stem}.server.log"
        shutil.copyfile(server.log, server_log)
        report.sections.append(("e2e server and kernel log", str(server_log)))


def _shut_down_sessions(server: LabServer) -> None:
    """Delete every session on the server, which shuts its kernel down."""
    base = f"{server.url}api/sessions"
    token = f"token={server.token}"
    with urllib.request.urlopen(f"{base}?{token}", timeout=30) as response:
        sessions = json.load(response)
    for session in sessions:
        request = urllib.request.Request(f"{base}/{session['id']}?{token}", method="DELETE")
        with urllib.request.urlopen(request, timeout=60):
            pass
