"""Tests for async_kernel.cli._kernelspec: writing, finding and removing kernel specs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager

from async_kernel._exceptions import UnknownBackendError
from async_kernel.cli._kernelspec import (
    ForeignKernelSpecError,
    InvalidKernelNameError,
    KernelSpecNotFoundError,
    build_kernel_spec,
    check_kernel_name,
    default_kernel_name,
    install_kernel_spec,
    kernels_dir,
    list_kernel_specs,
    remove_kernel_spec,
)
from async_kernel.runtime import _backends
from async_kernel.runtime._backends import backend_names, check_backend

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_SPEC = REPO_ROOT / "packages/kernel/data/share/jupyter/kernels/async/kernel.json"


@pytest.fixture
def jupyter_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point Jupyter's user and search paths at tmp dirs; return the prefix on JUPYTER_PATH."""
    prefix = tmp_path / "prefix"
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "user-data"))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "user-config"))
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    return prefix


@pytest.fixture
def with_trio(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make a backend named trio available, whether or not async-kernel-trio is installed."""
    monkeypatch.setattr(_backends, "backend_names", lambda: ["asyncio", "trio"])


@pytest.fixture
def without_trio(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make only the built-in backend available."""
    monkeypatch.setattr(_backends, "backend_names", lambda: ["asyncio"])


def write_foreign_spec(kernels: Path, name: str) -> Path:
    spec_dir = kernels / name
    spec_dir.mkdir(parents=True)
    spec = {"argv": ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]}
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return spec_dir


def test_build_default_spec() -> None:
    """The default spec runs this Python with -m async_kernel and interrupts by message."""
    assert build_kernel_spec() == {
        "argv": [sys.executable, "-m", "async_kernel", "-f", "{connection_file}"],
        "display_name": "Python 3 (async)",
        "language": "python",
        "interrupt_mode": "message",
        "metadata": {"debugger": True, "supported_encryption": ["curve"]},
    }


def test_build_spec_for_other_backend_names_it_in_argv() -> None:
    """A non-default backend is passed as --backend and appears in the display name."""
    spec = build_kernel_spec("async-trio", backend="trio", env={"A": "1"}, executable="py")
    assert spec["argv"] == ["py", "-m", "async_kernel", "-f", "{connection_file}"] + [
        "--backend",
        "trio",
    ]
    assert spec["display_name"] == "Python 3 (async-trio)"
    assert spec["env"] == {"A": "1"}


def test_shipped_spec_matches_built_spec() -> None:
    """The kernel.json in the wheel is the default spec with a portable 'python' command."""
    shipped = json.loads(SHIPPED_SPEC.read_text(encoding="utf-8"))
    assert shipped == build_kernel_spec(executable="python")


@pytest.mark.parametrize("name", ["async", "Async-Trio", "a.b_c-1"])
def test_valid_kernel_names_are_lowercased(name: str) -> None:
    """Names of letters, digits, '.', '_' and '-' are accepted, in lower case as Jupyter lists them."""
    assert check_kernel_name(name) == name.lower()


@pytest.mark.parametrize(
    "name", ["", "has space", "slash/name", "ünïcode", "../up", "..", ".", ".hidden"]
)
def test_invalid_kernel_names_are_rejected(name: str) -> None:
    """Other names fail with a message that lists the allowed characters."""
    with pytest.raises(InvalidKernelNameError, match="use only ASCII letters"):
        check_kernel_name(name)


def test_default_kernel_name_depends_on_backend() -> None:
    """asyncio gets 'async'; other backends get their own name so 'async' is never replaced."""
    assert default_kernel_name() == "async"
    assert default_kernel_name("trio") == "async-trio"


def test_available_backends_lists_asyncio_first() -> None:
    """The built-in backend is always available, and listed first."""
    assert backend_names()[0] == "asyncio"


@pytest.mark.usefixtures("without_trio")
def test_missing_trio_backend_says_what_to_install() -> None:
    """Asking for trio without async-kernel-trio names the extra to install."""
    with pytest.raises(UnknownBackendError) as caught:
        check_backend("trio")
    assert str(caught.value) == (
        "no kernel backend named 'trio'; install it with: pip install async-kernel[trio]"
    )


def test_unknown_backend_lists_available_ones() -> None:
    """An unknown backend name fails with the names that are available."""
    with pytest.raises(UnknownBackendError, match="available backends: asyncio"):
        check_backend("no-such-backend")


def test_kernels_dir_locations(
    tmp_path: Path, jupyter_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--prefix, --user and --sys-prefix map to the directories Jupyter searches."""
    env_prefix = tmp_path / "env"
    monkeypatch.setattr(sys, "prefix", str(env_prefix))
    assert kernels_dir(prefix=str(jupyter_dirs)) == jupyter_dirs / "share/jupyter/kernels"
    assert kernels_dir(user=True) == tmp_path / "user-data" / "kernels"
    assert kernels_dir(sys_prefix=True) == env_prefix / "share/jupyter/kernels"
    with pytest.raises(ValueError, match="at most one"):
        kernels_dir(user=True, prefix=str(jupyter_dirs))


def test_default_location_is_sys_prefix_in_a_venv(
    tmp_path: Path, jupyter_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside a virtual environment the default is the environment, elsewhere the user dir."""
    del jupyter_dirs
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))
    monkeypatch.setattr(sys, "base_prefix", str(tmp_path / "base"))
    assert kernels_dir() == tmp_path / "venv/share/jupyter/kernels"
    monkeypatch.setattr(sys, "base_prefix", sys.prefix)
    assert kernels_dir() == tmp_path / "user-data/kernels"


def test_install_is_found_by_kernel_spec_manager(jupyter_dirs: Path) -> None:
    """A spec installed under a prefix on JUPYTER_PATH is what jupyter_client reads."""
    path = install_kernel_spec(
        "async-test", display_name="Mine", env={"KEY": "v=1"}, prefix=str(jupyter_dirs)
    )
    assert path == jupyter_dirs / "share/jupyter/kernels/async-test"
    manager = KernelSpecManager()
    assert Path(manager.find_kernel_specs()["async-test"]) == path
    spec = manager.get_kernel_spec("async-test")
    assert spec.argv == [sys.executable, "-m", "async_kernel", "-f", "{connection_file}"]
    assert spec.display_name == "Mine"
    assert spec.language == "python"
    assert spec.interrupt_mode == "message"
    assert spec.metadata == {"debugger": True, "supported_encryption": ["curve"]}
    assert spec.env == {"KEY": "v=1"}


@pytest.mark.usefixtures("with_trio")
def test_install_for_user_with_backend(jupyter_dirs: Path) -> None:
    """A trio spec for the user gets the default name async-trio and --backend trio."""
    del jupyter_dirs
    path = install_kernel_spec(backend="trio", user=True)
    assert path.name == "async-trio"
    spec = KernelSpecManager().get_kernel_spec("async-trio")
    assert spec.argv[-2:] == ["--backend", "trio"]
    assert spec.display_name == "Python 3 (async-trio)"


def test_install_replaces_own_spec(jupyter_dirs: Path) -> None:
    """Installing again replaces the previous spec and leaves no staging directory behind."""
    install_kernel_spec("async-test", display_name="old", prefix=str(jupyter_dirs))
    path = install_kernel_spec("async-test", display_name="new", prefix=str(jupyter_dirs))
    assert json.loads((path / "kernel.json").read_text(encoding="utf-8"))["display_name"] == "new"
    assert [entry.name for entry in path.parent.iterdir()] == ["async-test"]


def test_install_refuses_to_replace_another_kernel(jupyter_dirs: Path) -> None:
    """A spec that starts another kernel is never overwritten."""
    foreign = write_foreign_spec(kernels_dir(prefix=str(jupyter_dirs)), "python3")
    with pytest.raises(ForeignKernelSpecError, match="does not start async-kernel"):
        install_kernel_spec("python3", prefix=str(jupyter_dirs))
    assert "ipykernel_launcher" in (foreign / "kernel.json").read_text(encoding="utf-8")


@pytest.mark.usefixtures("without_trio")
def test_install_checks_backend_before_writing(jupyter_dirs: Path) -> None:
    """An unavailable backend fails without creating anything."""
    with pytest.raises(UnknownBackendError):
        install_kernel_spec(backend="trio", prefix=str(jupyter_dirs))
    assert not jupyter_dirs.exists()


@pytest.mark.usefixtures("with_trio")
def test_list_finds_only_async_kernel_specs(jupyter_dirs: Path) -> None:
    """Listing shows our specs with their backends, not other kernels."""
    install_kernel_spec("async-test", prefix=str(jupyter_dirs))
    install_kernel_spec("async-test-trio", backend="trio", prefix=str(jupyter_dirs))
    write_foreign_spec(kernels_dir(prefix=str(jupyter_dirs)), "python3")
    specs = list_kernel_specs(prefix=str(jupyter_dirs))
    assert [(spec.name, spec.backend) for spec in specs] == [
        ("async-test", "asyncio"),
        ("async-test-trio", "trio"),
    ]
    on_search_path = {spec.name: spec.path for spec in list_kernel_specs()}
    assert on_search_path["async-test"] == specs[0].path
    assert "python3" not in on_search_path


def test_remove_from_search_path(jupyter_dirs: Path) -> None:
    """Removing by name deletes the spec Jupyter would have used."""
    path = install_kernel_spec("async-test", prefix=str(jupyter_dirs))
    assert remove_kernel_spec("async-test") == path
    assert not path.exists()
    assert "async-test" not in KernelSpecManager().find_kernel_specs()


def test_remove_missing_spec(jupyter_dirs: Path) -> None:
    """Removing a spec that is not there says where we looked."""
    with pytest.raises(KernelSpecNotFoundError, match="no kernel spec named 'async-test' in: "):
        remove_kernel_spec("async-test", prefix=str(jupyter_dirs))


def test_remove_refuses_another_kernel(jupyter_dirs: Path) -> None:
    """A spec that starts another kernel is never removed."""
    foreign = write_foreign_spec(kernels_dir(prefix=str(jupyter_dirs)), "python3")
    with pytest.raises(ForeignKernelSpecError, match="not removing it"):
        remove_kernel_spec("python3", prefix=str(jupyter_dirs))
    assert foreign.exists()


@pytest.mark.timeout(300)
def test_wheel_ships_the_async_spec(tmp_path: Path) -> None:
    """The async-kernel wheel carries kernels/async/kernel.json as shared data."""
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    subprocess.run(
        [uv, "build", "--package", "async-kernel", "--wheel", "-o", str(tmp_path)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("async_kernel-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        spec_files = [
            name
            for name in archive.namelist()
            if name.endswith(".data/data/share/jupyter/kernels/async/kernel.json")
        ]
        assert len(spec_files) == 1
        assert spec_files[0].startswith("async_kernel-")
        shipped = json.loads(archive.read(spec_files[0]))
    assert shipped == json.loads(SHIPPED_SPEC.read_text(encoding="utf-8"))
