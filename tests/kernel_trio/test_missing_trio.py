"""Without trio, `--backend trio` stops at start-up with a message that names the extra.

The kernel runs in a subprocess whose interpreter cannot import trio (``sys.modules`` holds
None for it, which is how Python reports a missing module) and, to look like an environment
without ``async-kernel[trio]``, cannot see the ``async_kernel.backends`` entry point either.
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from jupyter_client.connect import write_connection_file

if TYPE_CHECKING:
    from pathlib import Path

HIDE_TRIO = """
import importlib.metadata, runpy, sys

sys.modules["trio"] = None  # `import trio` now fails as it does when trio is not installed
if sys.argv[1] == "without-extra":
    sys.modules["async_kernel_trio"] = None
    _entry_points = importlib.metadata.entry_points

    def entry_points(**params):
        found = _entry_points(**params)
        return importlib.metadata.EntryPoints(
            ep for ep in found if ep.group != "async_kernel.backends"
        )

    importlib.metadata.entry_points = entry_points
"""

RUN_KERNEL_COMMAND = """
sys.argv = ["async-kernel", *sys.argv[2:]]
runpy.run_module("async_kernel", run_name="__main__", alter_sys=True)
"""

EXTRA = "pip install async-kernel[trio]"


def run_without_trio(
    mode: str, *arguments: str, code: str = RUN_KERNEL_COMMAND
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (by default the `async-kernel` command) where trio cannot be imported."""
    return subprocess.run(
        [sys.executable, "-c", HIDE_TRIO + code, mode, *arguments],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )


@pytest.fixture
def connection_file(tmp_path: Path) -> str:
    path, _ = write_connection_file(str(tmp_path / "kernel.json"))
    return path


@pytest.mark.parametrize(
    "command",
    [pytest.param([], id="short-form"), pytest.param(["start"], id="start-command")],
)
def test_backend_trio_without_the_extra_fails_fast_naming_it(
    connection_file: str, command: list[str]
) -> None:
    result = run_without_trio("without-extra", *command, "-f", connection_file, "--backend", "trio")
    assert result.returncode != 0
    assert EXTRA in result.stderr
    assert "Traceback" not in result.stderr


def test_installing_a_trio_spec_without_the_extra_fails_naming_it(tmp_path: Path) -> None:
    result = run_without_trio(
        "without-extra", "install", "--backend", "trio", "--prefix", str(tmp_path)
    )
    assert result.returncode != 0
    assert EXTRA in result.stderr
    assert not (tmp_path / "share").exists()


@pytest.mark.parametrize("mode", ["without-extra", "broken-install"])
def test_the_wrapper_hides_trio_and_only_then_the_entry_point(mode: str) -> None:
    # Guards the other tests: they must fail because trio is missing, not for another reason.
    code = (
        "import importlib.util\n"
        "assert importlib.util.find_spec('trio') is None\n"
        "names = [ep.name for ep in importlib.metadata.entry_points(group='async_kernel.backends')]\n"
        "print(names)\n"
    )
    result = run_without_trio(mode, code=code)
    assert result.returncode == 0, result.stderr
    expected = "[]" if mode == "without-extra" else "['trio']"
    assert result.stdout.strip() == expected


def test_backend_trio_with_trio_missing_but_the_plugin_present_names_the_extra(
    connection_file: str,
) -> None:
    result = run_without_trio("broken-install", "-f", connection_file, "--backend", "trio")
    assert result.returncode != 0
    assert EXTRA in result.stderr
    assert "Traceback" not in result.stderr
