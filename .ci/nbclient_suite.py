"""Run nbclient's own test suite against async-kernel installed as the `python3` kernel.

nbclient, `jupyter execute`, nbconvert and papermill treat a kernel named `python3` as
ipykernel (they add `--HistoryManager.hist_file=:memory:` to its command line, and nbclient's
expected outputs are ipykernel's). This script takes the `tests/` of nbclient's sdist, for
the version in uv.lock (downloaded from the lock's own URL and checked against its hash), and
runs them once per backend with our spec, installed by `async-kernel install --name python3`,
first on JUPYTER_PATH: the `python3` spec of the ipykernel the bench group installs is never
used, and the script checks that before running.

Usage: uv run --group nbclient-tests python .ci/nbclient_suite.py [BACKEND ...]
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".ci" / "cache"

KNOWN_FAILURES: dict[str, str] = {}
"""Tests of nbclient's suite that cannot pass with async-kernel, and why (docs/configuration.md
lists them too). Passed to pytest as --deselect."""


def locked_sdist(name: str) -> tuple[str, str, str]:
    """The version, sdist URL and sha256 of ``name`` in uv.lock."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    for package in lock["package"]:
        if package["name"] == name:
            sdist = package["sdist"]
            return package["version"], sdist["url"], sdist["hash"].removeprefix("sha256:")
    raise SystemExit(f"{name} is not in uv.lock")


def fetch_tests(folder: Path) -> Path:
    """Nbclient's sdist, unpacked into ``folder``; returns its root (with tests/)."""
    version, url, sha256 = locked_sdist("nbclient")
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / url.rsplit("/", 1)[-1]
    if not archive.exists() or hashlib.sha256(archive.read_bytes()).hexdigest() != sha256:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise SystemExit(f"{url}: the download does not match uv.lock's hash")
        archive.write_bytes(data)
    with tarfile.open(archive) as sdist:
        sdist.extractall(folder, filter="data")
    return folder / f"nbclient-{version}"


def install_spec(prefix: Path, backend: str) -> None:
    """Install our spec as `python3` under ``prefix`` and check Jupyter picks it."""
    command = [sys.executable, "-m", "async_kernel", "install", "--name", "python3"]
    command += ["--prefix", str(prefix), "--backend", backend]
    subprocess.run(command, check=True)
    check = (
        "from jupyter_client.kernelspec import KernelSpecManager\n"
        "argv = KernelSpecManager().get_kernel_spec('python3').argv\n"
        "assert 'async_kernel' in argv, argv\n"
    )
    env = dict(os.environ, JUPYTER_PATH=str(prefix / "share" / "jupyter"))
    subprocess.run([sys.executable, "-c", check], check=True, env=env)


def run_suite(source: Path, backend: str) -> int:
    """Nbclient's tests on ``backend``; returns pytest's exit status."""
    with tempfile.TemporaryDirectory(prefix="nbclient-jupyter-") as jupyter:
        prefix = Path(jupyter)
        install_spec(prefix, backend)
        env = dict(
            os.environ,
            JUPYTER_PATH=str(prefix / "share" / "jupyter"),
            IPYTHONDIR=str(prefix / "ipython"),
            PYTHONPATH="",
        )
        command = [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider"]
        # pytest-asyncio 1.x warns without it, and nbclient's config turns warnings into errors.
        command += ["-o", "asyncio_default_fixture_loop_scope=function", "-n", "2"]
        command += ["--color=no", "--durations=5", "-o", "log_cli_level=WARNING"]
        for test in KNOWN_FAILURES:
            command += ["--deselect", test]
        sys.stdout.write(f"== nbclient's test suite on async-kernel ({backend})\n")
        sys.stdout.flush()
        return subprocess.run(command, cwd=source, env=env, check=False).returncode


def main() -> int:
    """Run the suite on each backend named on the command line (default: asyncio and trio)."""
    backends = sys.argv[1:] or ["asyncio", "trio"]
    with tempfile.TemporaryDirectory(prefix="nbclient-sdist-") as folder:
        source = fetch_tests(Path(folder))
        statuses = [run_suite(source, backend) for backend in backends]
    return max(statuses)


if __name__ == "__main__":
    sys.exit(main())
