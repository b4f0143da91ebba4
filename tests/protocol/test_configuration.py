"""Settings and IPython configuration reach a real kernel, as they reach ipykernel.

Each test gives its kernel a private IPYTHONDIR (``running_kernel`` sets it to the test's
folder) holding real config and startup files.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import pytest

from async_kernel.cli._main import main
from tests.kernel_fixtures import KernelHarness, running_kernel, stdout_of
from tests.protocol.conftest import BACKENDS

if TYPE_CHECKING:
    from pathlib import Path

NBCLIENT_SETTING = "--HistoryManager.hist_file=:memory:"
"""What nbclient adds to the command line of a kernel named python3."""


def evaluate(kernel: KernelHarness, expression: str) -> str:
    """The printed value of ``expression`` in the kernel."""
    reply, messages = kernel.execute(f"print({expression})")
    assert reply["content"]["status"] == "ok", reply["content"]
    return stdout_of(messages).strip()


def write_profile(folder: Path, name: str = "default") -> Path:
    """A profile in the kernel's IPYTHONDIR with config files, startup files and an extension.

    Each step appends to the list ``order`` in the user namespace, so a test sees what ran and
    in which order.
    """
    profile = folder / "ipython" / f"profile_{name}"
    (profile / "startup").mkdir(parents=True)
    (profile / "ipython_config.py").write_text(
        "c.InteractiveShell.ast_node_interactivity = 'all'\n"
        "c.TerminalInteractiveShell.confirm_exit = False  # a class the kernel does not have\n"
        "c.TerminalIPythonApp.display_banner = False\n"
    )
    (profile / "ipython_kernel_config.py").write_text(
        "c.InteractiveShellApp.exec_lines = ['order.append(\"exec_lines\")']\n"
        f"c.InteractiveShellApp.exec_files = [{str(folder / 'exec_file.py')!r}]\n"
        "c.InteractiveShellApp.extensions = ['ordered_extension']\n"
    )
    (profile / "startup" / "00-first.py").write_text(
        "order = globals().get('order', [])\norder.append('startup 00')\n"
    )
    (profile / "startup" / "10-second.ipy").write_text("order.append('startup 10')\n%env\n")
    (folder / "exec_file.py").write_text("order.append('exec_files')\n")
    (folder / "ordered_extension.py").write_text(
        "def load_ipython_extension(shell):\n    shell.user_ns.setdefault('order', []).append('extension')\n"
    )
    return profile


@pytest.mark.parametrize("backend", BACKENDS)
def test_profile_config_and_startup_run_in_ipykernels_order(tmp_path: Path, backend: str) -> None:
    """Both config files are read and start-up steps run in ipykernel's order, nbclient's flag ok."""
    write_profile(tmp_path)
    with running_kernel(
        tmp_path, backend, extra_argv=[NBCLIENT_SETTING], env={"PYTHONPATH": str(tmp_path)}
    ) as kernel:
        assert evaluate(kernel, "order") == str(
            ["extension", "startup 00", "startup 10", "exec_lines", "exec_files"]
        )
        assert evaluate(kernel, "get_ipython().history_manager.hist_file") == ":memory:"
        reply, messages = kernel.execute("1\n2")
        results = [
            m["content"]["data"]["text/plain"]
            for m in messages
            if m["msg_type"] == "execute_result"
        ]
        assert results == ["1", "2"]  # ast_node_interactivity = 'all' from ipython_config.py
        assert reply["content"]["status"] == "ok"


@pytest.mark.parametrize("backend", BACKENDS)
def test_named_profile(tmp_path: Path, backend: str) -> None:
    """--profile NAME reads that profile's files, and the history goes into its folder."""
    profile = write_profile(tmp_path, "work")
    with running_kernel(
        tmp_path, backend, extra_argv=["--profile=work"], env={"PYTHONPATH": str(tmp_path)}
    ) as kernel:
        assert "exec_files" in evaluate(kernel, "order")
        assert evaluate(kernel, "get_ipython().history_manager.hist_file") == str(
            profile / "history.sqlite"
        )


def test_missing_profile_is_logged_not_fatal(tmp_path: Path) -> None:
    """A profile that does not exist is logged; the kernel starts without its files."""
    with running_kernel(tmp_path, extra_argv=["--profile=absent"]) as kernel:
        assert evaluate(kernel, "1 + 1") == "2"
    assert "IPython profile 'absent' not found" in (tmp_path / "kernel.log").read_text()


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_values_are_logged_and_unknown_classes_ignored(tmp_path: Path, backend: str) -> None:
    """A value its trait refuses is logged to stderr and the default kept; unknown classes pass."""
    settings = [
        "--InteractiveShell.ast_node_interactivity=sometimes",
        "--InteractiveShell.colors=no-such-theme",
        "--NoSuchClass.anything=1",
        "--InteractiveShell.autocall=2",
    ]
    with running_kernel(tmp_path, backend, extra_argv=settings) as kernel:
        shell = "get_ipython()"
        assert evaluate(kernel, f"{shell}.ast_node_interactivity") == "last_expr"
        assert evaluate(kernel, f"{shell}.autocall") == "2"
    log = (tmp_path / "kernel.log").read_text()
    assert "ignoring the setting InteractiveShell.ast_node_interactivity='sometimes'" in log
    assert "no color theme named 'no-such-theme'" in log
    assert "NoSuchClass" not in log


def test_ipkernelapp_section_and_failing_startup(tmp_path: Path) -> None:
    """ipykernel's IPKernelApp section is read; a failing startup file is logged, not fatal."""
    profile = tmp_path / "ipython" / "profile_default"
    (profile / "startup").mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text(
        "c.IPKernelApp.exec_lines = ['from_ipkernelapp = 1']\n"
    )
    (profile / "startup" / "00-broken.py").write_text("raise RuntimeError('broken startup')\n")
    with running_kernel(tmp_path) as kernel:
        assert evaluate(kernel, "from_ipkernelapp") == "1"
    assert "RuntimeError: broken startup" in (tmp_path / "kernel.log").read_text()


def test_quiet_false_echoes_output_to_the_terminal(tmp_path: Path) -> None:
    """--quiet=false writes cell output to the kernel's own stdout as well as to iopub."""
    with running_kernel(tmp_path, extra_argv=["--quiet=false"]) as kernel:
        assert evaluate(kernel, "'echo' + '-me'") == "echo-me"
    assert "echo-me" in (tmp_path / "kernel.log").read_text()


@pytest.mark.parametrize("backend", BACKENDS)
def test_installed_settings_are_honoured(tmp_path: Path, backend: str) -> None:
    """Settings written by `async-kernel install` are honoured when Jupyter starts the spec."""
    write_profile(tmp_path, "work")
    kernels = tmp_path / "installed"
    options = [] if backend == "asyncio" else ["--backend", backend]
    assert (
        main(
            ["install", "--name", "tuned", "--folder", str(kernels), *options]
            + ["--profile=work", "--matplotlib=agg", "--InteractiveShell.autocall=1"]
        )
        is None
    )
    argv = json.loads((kernels / "tuned" / "kernel.json").read_text())["argv"]
    with running_kernel(tmp_path, argv=argv, env={"PYTHONPATH": str(tmp_path)}) as kernel:
        assert "exec_lines" in evaluate(kernel, "order")
        assert evaluate(kernel, "get_ipython().autocall") == "1"
        assert evaluate(kernel, "__import__('matplotlib').get_backend()") == "agg"
        assert evaluate(kernel, "get_ipython().kernel.backend") == backend


def test_uvloop_when_asked(tmp_path: Path) -> None:
    """An asyncio spec installed with --uvloop runs its cells on uvloop."""
    pytest.importorskip("uvloop")
    kernels = tmp_path / "installed"
    main(["install", "--name", "fast", "--folder", str(kernels), "--uvloop"])
    argv = json.loads((kernels / "fast" / "kernel.json").read_text())["argv"]
    with running_kernel(tmp_path, argv=argv) as kernel:
        loop_type = "type(__import__('asyncio').get_running_loop()).__module__"
        assert evaluate(kernel, loop_type).startswith("uvloop")


@pytest.mark.parametrize(
    "arguments",
    [
        ["start", "--connection_file={connection_file}", "--name=async"],
        ["-f", "{connection_file}", "--start_interface=async_kernel.interface.x", "--launcher="],
    ],
)
def test_specs_of_earlier_versions_start(tmp_path: Path, arguments: list[str]) -> None:
    """Command lines written by async-kernel 0.23 start the kernel."""
    argv = [sys.executable, "-m", "async_kernel", *arguments]
    with running_kernel(tmp_path, argv=argv) as kernel:
        assert evaluate(kernel, "6 * 7") == "42"
