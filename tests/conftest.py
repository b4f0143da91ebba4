"""Shared test configuration: the anyio backends every async test runs on; xdist grouping."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

_TRIO_MISSING = importlib.util.find_spec("trio") is None


@pytest.fixture(
    params=[
        pytest.param("asyncio", id="asyncio"),
        pytest.param(
            "trio",
            id="trio",
            marks=pytest.mark.skipif(_TRIO_MISSING, reason="trio is not installed"),
        ),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each anyio test on asyncio and on trio."""
    return request.param


_ONE_WORKER_FOLDERS = ("tests/e2e/",)
"""Test folders whose tests all run on one xdist worker: the browser tests share one server."""


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup``, with every test under ``tests/e2e/`` in one group.

    xdist groups ``xdist_group``-marked tests by appending the group to their node id, which
    pytest 9.2 ignores (node ids became read-only), so the mark alone no longer keeps tests
    together. Grouping by folder needs only the node id the controller already has.
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class FolderGroupScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            for folder in _ONE_WORKER_FOLDERS:
                if nodeid.startswith(folder):
                    return folder
            return super()._split_scope(nodeid)

    return FolderGroupScheduling(config, log)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Add the logs of the kernels running when a test fails to its report."""
    report = yield
    if report.failed:
        from tests.kernel_fixtures import failed_logs, log_tail, running_logs

        for log_path in dict.fromkeys([*failed_logs, *running_logs]):
            report.sections.append((f"kernel log {log_path}", log_tail(log_path)))
    if report.when == "teardown":
        from tests.kernel_fixtures import failed_logs

        failed_logs.clear()
    return report
