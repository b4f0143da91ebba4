"""Run async-kernel in real Pyodide under Node and check it through the callable interface.

Prepares everything first, so nothing is fetched while Pyodide runs: the npm ``pyodide``
package (``npm install``), the pure-Python wheels the kernel needs for Pyodide (``pip
download``, at the versions in ``uv.lock``) and the project's own wheels (``uv build``), all
unpacked into one folder that ``kernel_checks.mjs`` mounts as ``/deps``. Downloads are
cached in ``.cache/pyodide`` at the repository root (git-ignored); the project's wheels are
rebuilt every run.

Usage: ``python tests/pyodide/run_pyodide_checks.py`` (needs node, npm and uv on PATH).
Exit status 0 when every check passed.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

PYODIDE_VERSION = "314.0.7"
"""The npm package: CPython 3.14 compiled to WebAssembly."""

PYODIDE_PYTHON = "3.14"

DEPENDENCIES = [
    # async-caller and async-kernel (pyzmq and debugpy are left out: not used in Pyodide)
    "anyio", "idna", "sniffio", "aiologic", "wrapt", "typing-extensions", "comm",
    # IPython 9 on emscripten (its markers leave out pexpect and psutil)
    "ipython", "ipython-pygments-lexers", "traitlets", "pygments", "jedi", "parso",
    "matplotlib-inline", "prompt-toolkit", "wcwidth", "stack-data", "executing", "asttokens",
    "pure-eval",
]  # fmt: skip
"""Pure-Python wheels, each pinned to its version in uv.lock. pip runs with ``--no-deps``:
its resolver would evaluate markers for this host (Linux), not for emscripten."""

PROJECT_PACKAGES = ["async-caller", "async-kernel"]

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "pyodide"
HERE = Path(__file__).resolve().parent


def log(message: str) -> None:
    """Print a progress line."""
    print(f"[pyodide] {message}", flush=True)


def run(command: list[str], cwd: Path | None = None) -> None:
    """Run ``command``, failing loudly with its output."""
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd)
    if result.returncode:
        msg = f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        raise SystemExit(msg)


def install_pyodide() -> Path:
    """The npm package's folder, installed into the cache once."""
    folder = CACHE / "npm" / "node_modules" / "pyodide"
    manifest = folder / "package.json"
    if manifest.exists() and json.loads(manifest.read_text())["version"] == PYODIDE_VERSION:
        return folder
    log(f"npm install pyodide@{PYODIDE_VERSION}")
    npm = shutil.which("npm") or "npm"
    (CACHE / "npm").mkdir(parents=True, exist_ok=True)
    run(
        [npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(CACHE / "npm"),
         f"pyodide@{PYODIDE_VERSION}"]
    )  # fmt: skip
    return folder


def locked_versions() -> dict[str, str]:
    """Package versions from uv.lock."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return {
        package["name"]: package["version"] for package in lock["package"] if "version" in package
    }


def download_dependencies() -> Path:
    """The dependency wheels for Pyodide's Python, downloaded once per set of pins."""
    versions = locked_versions()
    pins = sorted(f"{name}=={versions[name]}" for name in DEPENDENCIES)
    folder = CACHE / "wheels"
    stamp = folder / "pins.txt"
    if stamp.exists() and stamp.read_text().split() == pins:
        return folder
    log(f"pip download {len(pins)} wheels for Python {PYODIDE_PYTHON}")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    run(
        ["uvx", "--from", "pip", "pip", "download", "--quiet", "--disable-pip-version-check",
         "--only-binary=:all:", "--platform", "any", "--python-version", PYODIDE_PYTHON,
         "--no-deps", "-d", str(folder), *pins]
    )  # fmt: skip
    stamp.write_text("\n".join(pins))
    return folder


def build_project(folder: Path) -> None:
    """Build the project's wheels from this checkout into ``folder``."""
    shutil.rmtree(folder, ignore_errors=True)
    for package in PROJECT_PACKAGES:
        run(
            ["uv", "build", "--quiet", "--wheel", "--package", package, "-o", str(folder)], cwd=ROOT
        )


def unpack(wheel_folders: list[Path], site: Path) -> None:
    """Unzip every wheel into ``site`` (what Pyodide mounts as site-packages)."""
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    for folder in wheel_folders:
        for wheel in sorted(folder.glob("*.whl")):
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(site)


def main() -> int:
    """Prepare, then run the checks in Node; return node's exit status."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not installed (apt-get install nodejs npm)")
    CACHE.mkdir(parents=True, exist_ok=True)
    begin = time.monotonic()
    with (CACHE / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one preparation at a time per checkout
        pyodide = install_pyodide()
        wheels = download_dependencies()
        work = CACHE / f"run-{os.getpid()}"
        try:
            build_project(work / "dist")
            unpack([wheels, work / "dist"], work / "site-packages")
            log(f"prepared in {time.monotonic() - begin:.1f}s; running the checks in Node")
            fcntl.flock(lock, fcntl.LOCK_UN)
            result = subprocess.run(
                [node, str(HERE / "kernel_checks.mjs"), str(pyodide), str(work / "site-packages")],
                check=False,
                timeout=300,
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
    log(f"done in {time.monotonic() - begin:.1f}s")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
