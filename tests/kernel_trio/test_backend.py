"""The package registers a BackendSpec named trio, found through the entry point."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import distribution, entry_points

import async_kernel_trio
from async_kernel import BackendSpec


def test_backend_is_a_spec_named_trio() -> None:
    backend = async_kernel_trio.BACKEND
    assert isinstance(backend, BackendSpec)
    assert backend.name == "trio"
    assert backend.anyio_backend == "trio"


def test_all_lists_the_public_names() -> None:
    assert async_kernel_trio.__all__ == ["BACKEND"]


def test_entry_point_is_registered_by_the_distribution() -> None:
    (entry_point,) = [ep for ep in entry_points(group="async_kernel.backends") if ep.name == "trio"]
    assert entry_point.value == "async_kernel_trio:BACKEND"
    assert entry_point.dist is not None
    assert entry_point.dist.name == "async-kernel-trio"
    assert entry_point.load() is async_kernel_trio.BACKEND


def test_distribution_depends_on_trio_and_async_kernel() -> None:
    requires = distribution("async-kernel-trio").requires or []
    names = {requirement.split(">")[0].split("=")[0].strip() for requirement in requires}
    assert {"trio", "async-kernel"} <= names


def test_loading_the_backend_does_not_import_trio() -> None:
    # Listing and installing specs load the entry point; trio is imported only to run it.
    code = "import sys, async_kernel_trio; print('trio' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip() == "False"
