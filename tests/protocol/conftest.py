"""Kernels for protocol tests: the ZeroMQ kernel on each backend, and the callable interface.

Every test that takes ``kernel`` or ``fresh_kernel`` runs on the ZeroMQ kernel with asyncio and
with trio. Tests marked ``callable_interface`` run on the callable interface too
(``callable_host.py``: the kernel in one thread with no threads to start, as in Pyodide): the
same test, parametrised, for what applies without threads and signals.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pytest

from tests.kernel_fixtures import KernelHarness, running_kernel

if TYPE_CHECKING:
    from collections.abc import Iterator

BACKENDS = ["asyncio", "trio"]
CALLABLE_KINDS = ["callable-asyncio", "callable-trio"]
"""The callable interface, served to the test's ZeroMQ client by ``callable_host.py``."""

_CALLABLE_HOST = ("-X", "faulthandler", str(Path(__file__).with_name("callable_host.py")))
_KERNEL_FIXTURES: dict[str, Literal["module", "function"]] = {
    "kernel": "module",
    "fresh_kernel": "function",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise the kernel fixtures: both backends, plus the callable kinds if marked."""
    kinds = list(BACKENDS)
    if metafunc.definition.get_closest_marker("callable_interface") is not None:
        kinds += CALLABLE_KINDS
    chosen = {
        name
        for marker in metafunc.definition.iter_markers("parametrize")
        for name in _argnames(marker.args[0])
    }
    for name, scope in _KERNEL_FIXTURES.items():
        if name in metafunc.fixturenames and name not in chosen:
            metafunc.parametrize(name, kinds, indirect=True, scope=scope)


def _argnames(argnames: str | list[str] | tuple[str, ...]) -> list[str]:
    if isinstance(argnames, str):
        return [name.strip() for name in argnames.split(",")]
    return list(argnames)


@contextmanager
def _start(folder: Path, kind: str) -> Iterator[KernelHarness]:
    if kind not in CALLABLE_KINDS:
        with running_kernel(folder, kind) as harness:
            yield harness
        return
    backend = kind.removeprefix("callable-")
    with running_kernel(folder, backend, command=_CALLABLE_HOST) as harness:
        harness.without_threads = True
        yield harness


@pytest.fixture(scope="module")
def kernel(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KernelHarness]:
    """One kernel per test module and kind, shared by the module's tests."""
    folder: Path = tmp_path_factory.mktemp("kernel")
    with _start(folder, request.param) as harness:
        yield harness


@pytest.fixture
def fresh_kernel(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KernelHarness]:
    """A kernel of the test's own, for tests that interrupt, restart or break it."""
    with _start(tmp_path, request.param) as harness:
        yield harness
