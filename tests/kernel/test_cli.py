"""Tests for the async-kernel command line, in process and as `python -m async_kernel`."""

from __future__ import annotations

import ast
import json
import logging
import os
import socket
import subprocess
import sys
import types
from typing import TYPE_CHECKING, Any

import pytest
from jupyter_client.kernelspec import KernelSpecManager

from async_kernel.cli import _kernelspec
from async_kernel.cli._main import main
from async_kernel.messaging._listeners import Listeners
from async_kernel.runtime import _backends

if TYPE_CHECKING:
    from pathlib import Path

TRIO_MESSAGE = "no kernel backend named 'trio'; install it with: pip install async-kernel[trio]"
TRIO_REGISTERED = "trio" in _backends.backend_names()


@pytest.fixture
def jupyter_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point Jupyter's user and search paths at tmp dirs; return the prefix on JUPYTER_PATH."""
    prefix = tmp_path / "prefix"
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "user-data"))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "user-config"))
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    return prefix


@pytest.fixture
def fake_trio_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Register a backend named trio through real entry-point metadata on sys.path.

    Returns the directory, for a subprocess's PYTHONPATH. Nothing is imported: validating a
    backend reads only the metadata.
    """
    site = tmp_path / "site"
    dist_info = site / "fake_async_kernel_trio-0.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fake-async-kernel-trio\nVersion: 0.0\n", encoding="utf-8"
    )
    (dist_info / "entry_points.txt").write_text(
        "[async_kernel.backends]\ntrio = fake_async_kernel_trio:backend\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(site))
    return site


@pytest.fixture
def without_trio(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make only the built-in backend available in this process."""
    monkeypatch.setattr(_backends, "backend_names", lambda: ["asyncio"])


@pytest.fixture
def fake_start(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Replace async_kernel._start with a stub that records its calls and returns 0."""
    calls: list[tuple[str, str]] = []

    def run_kernel(connection_file: str, listeners: Listeners, *, backend: str = "asyncio") -> int:
        assert isinstance(listeners, Listeners)
        calls.append((connection_file, backend))
        return 0

    stub_kernel_start(monkeypatch, run_kernel)
    return calls


def stub_kernel_start(monkeypatch: pytest.MonkeyPatch, run_kernel: object) -> None:
    """Make ``async_kernel._start`` a module whose ``run_kernel`` is the given stub."""
    module = types.ModuleType("async_kernel._start")
    module.run_kernel = run_kernel  # pyright: ignore[reportAttributeAccessIssue]
    monkeypatch.setitem(sys.modules, "async_kernel._start", module)


def run_module(*args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m async_kernel ARGS` with this process's (monkeypatched) environment."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "async_kernel", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def spec_json(prefix: Path, name: str) -> dict[str, Any]:
    path = prefix / "share/jupyter/kernels" / name / "kernel.json"
    return json.loads(path.read_text(encoding="utf-8"))


def test_install_into_prefix(jupyter_dirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`install --prefix` writes the default spec and says where."""
    assert main(["install", "--name", "async-test", "--prefix", str(jupyter_dirs)]) is None
    path = jupyter_dirs / "share/jupyter/kernels/async-test"
    assert str(path) in capsys.readouterr().out
    spec = KernelSpecManager().get_kernel_spec("async-test")
    assert spec.argv == [sys.executable, "-m", "async_kernel", "-f", "{connection_file}"]
    assert spec.display_name == "Python 3 (async-test)"
    assert spec.interrupt_mode == "message"


def test_install_with_display_name_and_env(jupyter_dirs: Path) -> None:
    """--display-name and repeated --env KEY=VALUE end up in kernel.json."""
    main(
        ["install", "--name", "async-test", "--prefix", str(jupyter_dirs)]
        + ["--display-name", "My kernel", "--env", "A=1", "--env", "B=x=y"]
    )
    spec = spec_json(jupyter_dirs, "async-test")
    assert spec["display_name"] == "My kernel"
    assert spec["env"] == {"A": "1", "B": "x=y"}


def test_install_for_user(jupyter_dirs: Path, tmp_path: Path) -> None:
    """`install --user` goes to JUPYTER_DATA_DIR/kernels."""
    del jupyter_dirs
    main(["install", "--name", "async-test", "--user"])
    assert (tmp_path / "user-data/kernels/async-test/kernel.json").is_file()


@pytest.mark.usefixtures("fake_trio_site")
def test_install_trio_backend_default_name(jupyter_dirs: Path) -> None:
    """`install --backend trio` names the spec async-trio and passes --backend trio."""
    main(["install", "--backend", "trio", "--prefix", str(jupyter_dirs)])
    spec = spec_json(jupyter_dirs, "async-trio")
    assert spec["argv"][-2:] == ["--backend", "trio"]
    assert spec["display_name"] == "Python 3 (async-trio)"


@pytest.mark.usefixtures("fake_trio_site")
@pytest.mark.parametrize(
    "backend_args", [["--interface.backend=trio"], ["--interface.backend", "trio"]]
)
def test_short_form_install(jupyter_dirs: Path, backend_args: list[str]) -> None:
    """`-a NAME --interface.backend trio` installs a trio spec named NAME."""
    main(["-a", "my-trio", *backend_args, "--display-name", "Trio!", "--prefix", str(jupyter_dirs)])
    spec = spec_json(jupyter_dirs, "my-trio")
    assert spec["argv"][-2:] == ["--backend", "trio"]
    assert spec["display_name"] == "Trio!"


@pytest.mark.usefixtures("without_trio")
@pytest.mark.parametrize(
    "args",
    [
        ["install", "--backend", "trio"],
        ["-a", "x", "--interface.backend=trio"],
        ["start", "-f", "kernel.json", "--backend", "trio"],
        ["-f", "kernel.json", "--backend", "trio"],
    ],
)
def test_missing_trio_backend_exits_2(
    jupyter_dirs: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Installing or starting with trio when it is not registered says what to install."""
    assert main([*args, "--prefix", str(jupyter_dirs)] if "-f" not in args else args) == 2
    assert capsys.readouterr().err == f"async-kernel: error: {TRIO_MESSAGE}\n"
    assert not jupyter_dirs.exists()


def test_invalid_name_exits_2(jupyter_dirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A name with characters Jupyter does not allow fails before anything is written."""
    assert main(["install", "--name", "bad name", "--prefix", str(jupyter_dirs)]) == 2
    assert "invalid kernel spec name 'bad name'" in capsys.readouterr().err
    assert not jupyter_dirs.exists()


def test_bad_env_exits_2(jupyter_dirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--env without '=' is refused."""
    assert main(["install", "--env", "NOVALUE", "--prefix", str(jupyter_dirs)]) == 2
    assert "--env expects KEY=VALUE, got 'NOVALUE'" in capsys.readouterr().err


def test_uninstall(jupyter_dirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`uninstall --name NAME -y` removes the spec found on Jupyter's search path."""
    main(["install", "--name", "async-test", "--prefix", str(jupyter_dirs)])
    assert main(["uninstall", "--name", "async-test", "-y"]) is None
    assert "Removed kernel spec 'async-test'" in capsys.readouterr().out
    assert "async-test" not in KernelSpecManager().find_kernel_specs()


def test_uninstall_missing_exits_1(jupyter_dirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Uninstalling a spec that does not exist fails with status 1."""
    assert main(["uninstall", "--name", "async-test", "--prefix", str(jupyter_dirs)]) == 1
    assert "no kernel spec named 'async-test'" in capsys.readouterr().err


@pytest.mark.usefixtures("fake_trio_site")
def test_list(jupyter_dirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`list` prints each async-kernel spec with its backend and path."""
    main(["install", "--name", "async-test", "--prefix", str(jupyter_dirs)])
    main(["-a", "async-test-trio", "--interface.backend=trio", "--prefix", str(jupyter_dirs)])
    capsys.readouterr()
    assert main(["list", "--prefix", str(jupyter_dirs)]) is None
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    kernels = jupyter_dirs / "share/jupyter/kernels"
    assert lines == [
        ["NAME", "BACKEND", "PATH"],
        ["async-test", "asyncio", str(kernels / "async-test")],
        ["async-test-trio", "trio", str(kernels / "async-test-trio")],
    ]


@pytest.mark.usefixtures("without_trio")
def test_list_marks_missing_backend(jupyter_dirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A spec whose backend is not installed is listed as such."""
    spec_dir = jupyter_dirs / "share/jupyter/kernels/async-trio"
    spec_dir.mkdir(parents=True)
    spec = _kernelspec.build_kernel_spec("async-trio", backend="trio")
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    main(["list", "--prefix", str(jupyter_dirs)])
    assert "trio (not installed)" in capsys.readouterr().out


def test_list_empty(jupyter_dirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`list` says so when there is nothing to list."""
    assert main(["list", "--prefix", str(jupyter_dirs)]) is None
    assert capsys.readouterr().out == "No async-kernel specs found.\n"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["start", "-f", "conn.json"], ("conn.json", "asyncio")),
        (["-f", "conn.json"], ("conn.json", "asyncio")),
        (["start", "-f", "conn.json", "--backend", "trio"], ("conn.json", "trio")),
        (["-f", "conn.json", "--interface.backend=trio"], ("conn.json", "trio")),
    ],
)
@pytest.mark.usefixtures("fake_trio_site")
def test_start_calls_start_kernel(
    fake_start: list[tuple[str, str]], args: list[str], expected: tuple[str, str]
) -> None:
    """Both start forms pass the connection file and backend to the kernel."""
    assert main(args) == 0
    assert fake_start == [expected]


def test_start_listens_on_the_files_ports_before_the_kernel_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel gets sockets already listening on every port of the connection file."""
    listening: list[int] = []

    def run_kernel(connection_file: str, listeners: Listeners, *, backend: str) -> None:
        del connection_file, backend
        listening.append(len(listeners))
        listeners.close()

    stub_kernel_start(monkeypatch, run_kernel)
    connection_file = tmp_path / "kernel.json"
    connection_file.write_text(json.dumps({"ip": "127.0.0.1", "key": "k", **free_ports()}))
    assert main(["-f", str(connection_file)]) is None
    assert listening == [5]


def free_ports() -> dict[str, int]:
    """Five ports the OS just handed out, by connection-file name."""
    names = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
    sockets = [socket.socket() for _ in names]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return {name: sock.getsockname()[1] for name, sock in zip(names, sockets, strict=True)}
    finally:
        for sock in sockets:
            sock.close()


@pytest.mark.parametrize("form", [["start", "-f"], ["--connection-file"]])
def test_start_log_level(form: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """--log-level (any case) reaches the kernel's one logging set-up."""
    levels: list[str] = []

    def run_kernel(
        connection_file: str, listeners: Listeners, *, log_level: str, **_: object
    ) -> int:
        del connection_file
        listeners.close()
        levels.append(log_level)
        return 0

    stub_kernel_start(monkeypatch, run_kernel)
    main([*form, "conn.json", "--log-level", "debug"])
    assert levels == ["DEBUG"]


def test_logging_set_up_uses_the_level_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    from async_kernel.runtime._logging import configure_logging

    configured: list[object] = []
    monkeypatch.setattr(logging, "basicConfig", lambda **kwargs: configured.append(kwargs["level"]))
    configure_logging("debug")
    assert configured == ["DEBUG"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--display-name", "x"], "give -f FILE to start, -a NAME (or -n NAME) to install"),
        (["-f", "conn.json", "--bogus-option"], "unrecognized arguments: --bogus-option"),
        (["instal"], "invalid choice: 'instal'"),
        (["-f", "conn.json", "install"], "the command 'install' must come first"),
        (["-f", "conn.json", "--user"], "--user: can only be used with -a NAME"),
        (["-f", "conn.json", "-a", "x"], "not allowed with argument"),
        (["start"], "the following arguments are required: -f/--connection-file"),
        (["install", "--user", "--prefix", "p"], "not allowed with argument"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Malformed command lines exit with status 2 and an argparse message."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_subprocess_install_list_uninstall(jupyter_dirs: Path) -> None:
    """`python -m async_kernel` installs, lists and uninstalls without any stdin."""
    prefix = str(jupyter_dirs)
    installed = run_module("install", "--name", "async-test", "--prefix", prefix)
    assert installed.returncode == 0, installed.stderr
    assert "async-test" in KernelSpecManager().find_kernel_specs()
    listed = run_module("list", "--prefix", prefix)
    assert listed.returncode == 0, listed.stderr
    assert "async-test" in listed.stdout
    removed = run_module("uninstall", "--name", "async-test", "-y")
    assert removed.returncode == 0, removed.stderr
    assert "async-test" not in KernelSpecManager().find_kernel_specs()


def test_subprocess_short_form_install_with_trio(jupyter_dirs: Path, fake_trio_site: Path) -> None:
    """`python -m async_kernel -a NAME --interface.backend=trio` installs a trio spec."""
    result = run_module(
        "-a",
        "async-test-trio",
        "--interface.backend=trio",
        "--prefix",
        str(jupyter_dirs),
        pythonpath=fake_trio_site,
    )
    assert result.returncode == 0, result.stderr
    spec = KernelSpecManager().get_kernel_spec("async-test-trio")
    assert spec.argv[-2:] == ["--backend", "trio"]


@pytest.mark.skipif(TRIO_REGISTERED, reason="a trio backend is installed")
@pytest.mark.parametrize(
    "args", [["-f", "conn.json", "--backend", "trio"], ["install", "--backend", "trio"]]
)
def test_subprocess_missing_trio_exits_2(jupyter_dirs: Path, args: list[str]) -> None:
    """Without a trio backend, starting or installing one fails with status 2 and the fix."""
    del jupyter_dirs
    result = run_module(*args)
    assert result.returncode == 2
    assert result.stderr == f"async-kernel: error: {TRIO_MESSAGE}\n"


def test_subprocess_unknown_backend_exits_2(jupyter_dirs: Path) -> None:
    """An unknown backend name fails with status 2 and lists the available backends."""
    result = run_module("-a", "x", "--backend", "no-such", "--prefix", str(jupyter_dirs))
    assert result.returncode == 2
    assert "no kernel backend named 'no-such'; available backends: asyncio" in result.stderr


def heavy_modules_imported(modules: str, heavy: tuple[str, ...]) -> list[str]:
    """The modules starting with one of ``heavy`` that importing ``modules`` pulls in."""
    code = (
        f"import sys, {modules}\n"
        f"print(sorted(name for name in sys.modules if name.startswith({heavy!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return ast.literal_eval(result.stdout)


def test_listening_needs_no_heavy_import() -> None:
    """The command line listens on the kernel's ports before importing typing or logging."""
    heavy = ("typing", "logging", "asyncio", "zmq", "IPython", "importlib.metadata")
    assert (
        heavy_modules_imported("async_kernel.__main__, async_kernel.messaging._listeners", heavy)
        == []
    )


def test_entry_module_imports_little() -> None:
    """Importing `async_kernel.__main__` pulls in neither the kernel nor Jupyter libraries."""
    heavy = (
        "async_kernel._start",
        "jupyter_core",
        "jupyter_client",
        "zmq",
        "IPython",
        "importlib.metadata",
        "trio",
    )
    assert heavy_modules_imported("async_kernel.__main__", heavy) == []


def test_install_does_not_import_the_kernel(jupyter_dirs: Path) -> None:
    """install and list never import async_kernel._start or jupyter_client."""
    code = (
        "import sys\n"
        "from async_kernel.cli._main import main\n"
        f"main(['install', '--name', 'async-test', '--prefix', {str(jupyter_dirs)!r}])\n"
        f"main(['list', '--prefix', {str(jupyter_dirs)!r}])\n"
        "print(sorted(n for n in sys.modules if n.startswith(('async_kernel._start', "
        "'jupyter_client'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.splitlines()[-1] == "[]"
