"""The four wheels, installed with pip into a fresh environment, run notebooks with Jupyter.

What a user of ``pip install async-kernel`` gets: our wheels (never a release of the same name
from the index: they go in with ``--no-index --no-deps``), then their dependencies from the
index. ``jupyter execute`` then runs a notebook on the ``async`` spec the wheel installs and on
a trio spec made with ``async-kernel install``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = next(path for path in Path(__file__).resolve().parents if (path / "uv.lock").exists())
PACKAGES = ("async-caller", "async-kernel", "async-kernel-trio", "async-kernel-gui")
VERSION = "0.24.0"

NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": "import sys, async_kernel, sniffio\n"
            "await __import__('anyio').sleep(0)\n"
            "print(async_kernel.__version__, sys.prefix, sniffio.current_async_library())",
        }
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def run(command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run ``command``; fail the test with its output when it fails."""
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=cwd, env=env
    )
    if result.returncode != 0:
        pytest.fail(f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


@pytest.mark.timeout(900)  # builds four wheels and installs their dependencies from the index
@pytest.mark.xdist_group("wheels")
def test_wheels_install_with_pip_and_run_notebooks(tmp_path: Path) -> None:
    """Our four wheels run a notebook on the asyncio and trio specs, from a fresh venv."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is needed to build the wheels")
    dist = tmp_path / "dist"
    for package in PACKAGES:
        run([uv, "build", "--package", package, "--wheel", "--out-dir", str(dist)], cwd=ROOT)
    wheels = sorted(dist.glob("*.whl"))
    assert len(wheels) == 4
    assert all(f"-{VERSION}-" in wheel.name for wheel in wheels)

    environment = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    python = str(environment / "bin" / "python")
    pip = [python, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    run([*pip, "install", "--no-index", "--no-deps", *map(str, wheels)])
    # Their dependencies from the index; ours, installed already, satisfy the pins.
    requirements = [f"async-kernel[trio]=={VERSION}", f"async-kernel-gui=={VERSION}"]
    run([*pip, "install", "--prefer-binary", *requirements, "nbclient", "nbformat"])
    installed = json.loads(run([python, "-m", "pip", "list", "--format=json"]))
    versions = {item["name"]: item["version"] for item in installed}
    assert {name: versions.get(name) for name in PACKAGES} == dict.fromkeys(PACKAGES, VERSION)

    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("JUPYTER", "VIRTUAL_ENV", "PYTHON", "UV_"))
    }
    env.update(
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
        IPYTHONDIR=str(tmp_path / "ipython"),
        PATH=f"{environment / 'bin'}{os.pathsep}{env.get('PATH', '')}",
    )
    run(
        [
            str(environment / "bin" / "async-kernel"),
            "install",
            "--name",
            "async-trio",
            "--backend",
            "trio",
        ],
        env=env,
    )
    listed = run([str(environment / "bin" / "async-kernel"), "list"], env=env)
    assert "async-trio" in listed
    for kernel_name, library in (("async", "asyncio"), ("async-trio", "trio")):
        notebook = tmp_path / f"{kernel_name}.ipynb"
        notebook.write_text(json.dumps(NOTEBOOK))
        run(
            [str(environment / "bin" / "jupyter-execute"), f"--kernel_name={kernel_name}"]
            + ["--inplace", str(notebook)],
            env=env,
            cwd=tmp_path,
        )
        (cell,) = json.loads(notebook.read_text())["cells"]
        text = "".join("".join(output.get("text", "")) for output in cell["outputs"])
        assert text == f"{VERSION} {environment} {library}\n", cell["outputs"]
