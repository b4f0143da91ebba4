"""The command line as users of ipykernel and of async-kernel 0.23 type it (in process)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import pytest

from async_kernel._version import __version__
from async_kernel.cli._main import main
from tests.kernel.test_cli import stub_kernel_start

if TYPE_CHECKING:
    from pathlib import Path

    from async_kernel.messaging._listeners import Listeners


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record what the command line would start the kernel with (a stub kernel)."""
    calls: list[dict[str, Any]] = []

    def run_kernel(connection_file: str, listeners: Listeners, **options: Any) -> None:
        listeners.close()
        calls.append({"connection_file": connection_file, **options})

    stub_kernel_start(monkeypatch, run_kernel)
    return calls


def test_bare_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    """`async-kernel` alone prints the help and succeeds."""
    assert main([]) is None
    out = capsys.readouterr().out
    assert out.startswith("usage: async-kernel")
    assert "--connection-file" in out


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    """-V and --version print the version."""
    assert main([flag]) is None
    assert capsys.readouterr().out == f"{__version__}\n"


def test_install_help_names_the_provisioner_specs(capsys: pytest.CaptureFixture[str]) -> None:
    """`install --help` points to `install --provisioner` and names every provisioner."""
    from async_kernel.cli._provisioner_specs import PROVISIONERS

    with pytest.raises(SystemExit) as exited:
        main(["install", "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "install --provisioner {" + ",".join(sorted(PROVISIONERS)) + "}" in text


def test_help_all_lists_settings_with_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    """--help-all shows the commands and every setting the kernel reads, with its default."""
    assert main(["--help-all"]) is None
    out = capsys.readouterr().out
    for text in (
        "async-kernel install",
        "--HistoryManager.hist_file=<Union>",
        "--InteractiveShellApp.exec_lines=<list-item-1>...",
        "--InteractiveShell.ast_node_interactivity=<Enum>",
        "Default: 'last_expr'",
    ):
        assert text in out


def test_short_and_underscore_spellings_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`install -n NAME --display_name=X --folder PATH` and `-l --folder PATH` work."""
    folder = tmp_path / "kernels"
    assert main(["install", "-n", "mine", "--display_name=Mine", f"--folder={folder}"]) is None
    spec = json.loads((folder / "mine" / "kernel.json").read_text())
    assert spec["display_name"] == "Mine"
    capsys.readouterr()
    assert main(["-l", "--folder", str(folder)]) is None
    assert "mine" in capsys.readouterr().out


def test_short_form_name_installs(tmp_path: Path) -> None:
    """`-n NAME` alone installs, as `-a NAME` does; -u is --user."""
    folder = tmp_path / "kernels"
    assert main(["-n", "other", "--folder", str(folder)]) is None
    assert (folder / "other" / "kernel.json").is_file()


def test_install_writes_kernel_settings_into_the_spec(tmp_path: Path) -> None:
    """Settings given to install end up on the spec's command line, for start to honour."""
    folder = tmp_path / "kernels"
    main(
        ["install", "--name", "tuned", "--folder", str(folder), "--profile", "work"]
        + ["--gui=tk", "--quiet=false", "--uvloop", "--InteractiveShell.autocall=1"]
    )
    argv = json.loads((folder / "tuned" / "kernel.json").read_text())["argv"]
    assert argv[:5] == [sys.executable, "-m", "async_kernel", "-f", "{connection_file}"]
    assert argv[5:] == [
        "--profile=work",
        "--gui=tk",
        "--quiet=false",
        "--uvloop",
        "--InteractiveShell.autocall=1",
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["start", "--connection_file=conn.json", "--name=async"],
        ["start", "--connection_file", "conn.json", "--kernel_name=async"],
        ["-f", "conn.json"],
        ["--connection_file=conn.json"],
    ],
)
def test_old_spec_forms_start(args: list[str], started: list[dict[str, Any]]) -> None:
    """Command lines of specs written by earlier versions start the kernel."""
    assert main(args) is None
    assert [call["connection_file"] for call in started] == ["conn.json"]


def test_settings_reach_the_kernel(started: list[dict[str, Any]]) -> None:
    """--Class.trait settings, --profile, --gui and --quiet=false are passed to the kernel."""
    main(
        ["--HistoryManager.hist_file=:memory:", "--InteractiveShell.autocall", "1", "-f"]
        + ["conn.json", "--profile=work", "--gui=tk", "--quiet=false"]
    )
    assert started == [
        {
            "connection_file": "conn.json",
            "backend": "asyncio",
            "settings": [
                "--HistoryManager.hist_file=:memory:",
                "--InteractiveShell.autocall=1",
                "--InteractiveShellApp.gui=tk",
            ],
            "profile": "work",
            "quiet": False,
        }
    ]


def test_old_lowercase_settings_warn_and_start(
    started: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """0.23's --start_interface, --launcher and lowercase dotted settings warn, never fail."""
    args = ["-f", "conn.json", "--start_interface=async_kernel.interface.start_kernel_zmq"]
    args += ["--launcher=x", "--kernel.shell.timeout=3", "--interface.backend=asyncio"]
    assert main(args) is None
    assert started[0]["backend"] == "asyncio"
    err = capsys.readouterr().err
    for name in ("--start_interface", "--launcher", "--kernel.shell.timeout"):
        assert f"async-kernel: warning: {name}=" in err


def test_uvloop_asked_but_missing_warns(
    started: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--uvloop without uvloop installed starts on asyncio's own loop, with a warning."""
    monkeypatch.setitem(sys.modules, "uvloop", None)  # find_spec then raises ValueError
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert main(["-f", "conn.json", "--uvloop"]) is None
    assert "backend_options" not in started[0]
    assert "uvloop is not installed" in capsys.readouterr().err


def test_uvloop_is_for_asyncio(capsys: pytest.CaptureFixture[str]) -> None:
    """--uvloop with another backend is a usage error naming the backend."""
    assert main(["-f", "conn.json", "--backend", "trio", "--uvloop"]) == 2
    assert "--uvloop is for the asyncio backend, not 'trio'" in capsys.readouterr().err
