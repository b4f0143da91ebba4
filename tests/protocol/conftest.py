from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.kernel_fixtures import KernelHarness, running_kernel

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

BACKENDS = ["asyncio", "trio"]


@pytest.fixture(scope="module", params=BACKENDS)
def kernel(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KernelHarness]:
    """One kernel per test module and backend, shared by the module's tests."""
    folder: Path = tmp_path_factory.mktemp("kernel")
    with running_kernel(folder, request.param) as harness:
        yield harness


@pytest.fixture(params=BACKENDS)
def fresh_kernel(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KernelHarness]:
    """A kernel of the test's own, for tests that interrupt, restart or break it."""
    with running_kernel(tmp_path, request.param) as harness:
        yield harness
