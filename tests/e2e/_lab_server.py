"""A JupyterLab server for browser tests, with every piece of state in one temporary folder.

The server sees only the kernel specs written here (through ``JUPYTER_PATH``, which Jupyter
searches before the environment's own folders), keeps its settings and workspaces here, and
listens on a port the OS picks; nothing in the developer's environment is read or changed.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from async_kernel.cli._kernelspec import install_kernel_spec

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

START_TIMEOUT = 60.0
"""Seconds for the server to answer /api/status; a cold start here takes 5-10 s."""


@dataclass(frozen=True)
class KernelChoice:
    """A kernel spec the server offers: its name and what JupyterLab shows for it."""

    name: str
    display_name: str
    backend: str


KERNELS = {
    "asyncio": KernelChoice("async", "Python 3 (async)", "asyncio"),
    "trio": KernelChoice("async-trio", "Python 3 (async-trio)", "trio"),
}
"""The specs the server offers, by backend."""

# Lab checks for news and updates on start and shows a pop-up that can cover what a test clicks.
_SERVER_CONFIG = {
    # jupyter-lsp would start a language server (basedpyright, found in the dev environment)
    # for every notebook: seconds of CPU per test on a 2-core machine, and nothing we test.
    "ServerApp": {"jpserver_extensions": {"jupyter_lsp": False}},
}

_PAGE_CONFIG = {
    # Its frontend half, which would ask the disabled server half for /lsp/status (a 404).
    "disabledExtensions": {"@jupyterlab/lsp-extension": True},
}

_LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


class LabServer:
    """A running ``jupyter lab`` process and how to reach it.

    Attributes:
        root: The folder the server serves; tests write their notebooks here.
        url: The server's base URL, ending in ``/``.
        token: The token every request must carry.
        log: The file that holds the server's output.
    """

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self.root = folder / "notebooks"
        self.token = secrets.token_hex(16)
        self.log = folder / "jupyter-lab.log"
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Write the isolated configuration and start the server; return once it answers."""
        env = self._prepare()
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jupyterlab",
                    "--no-browser",
                    "--allow-root",
                    "--ip=127.0.0.1",
                    "--ServerApp.port=0",
                    "--ServerApp.port_retries=0",
                    f"--IdentityProvider.token={self.token}",
                    f"--ServerApp.root_dir={self.root}",
                    "--LabApp.news_url=",
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )
        self.url = self._wait_until_ready(self._folder / "runtime")

    def stop(self) -> None:
        """Stop the server (it shuts its kernels down first) and wait for it to exit."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def lab_url(self, path: str = "") -> str:
        """The URL of a Lab view (``tree/name.ipynb``) with a fresh workspace and the token."""
        return f"{self.url}lab/{path}?reset&token={self.token}"

    @contextmanager
    def user_settings(self, plugin: str, values: dict[str, Any]) -> Iterator[None]:
        """Set a Lab plugin's user settings (``@scope/package/plugin``) for pages opened inside.

        Lab reads them when a page loads, so a page already open keeps the old ones.
        """
        path = self._folder / "lab-settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
        try:
            yield
        finally:
            path.unlink()

    def write_notebook(self, name: str, cells: list[str], kernel: KernelChoice) -> str:
        """Write a notebook of code cells that opens with ``kernel``; return its file name."""
        notebook = {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "id": f"cell-{index}",
                    "metadata": {},
                    "outputs": [],
                    "source": source,
                }
                for index, source in enumerate(cells)
            ],
            "metadata": {
                "kernelspec": {
                    "name": kernel.name,
                    "display_name": kernel.display_name,
                    "language": "python",
                },
                "language_info": {"name": "python"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        file_name = f"{name}.ipynb"
        (self.root / file_name).write_text(json.dumps(notebook, indent=1), encoding="utf-8")
        return file_name

    def _prepare(self) -> dict[str, str]:
        """Create the folders, kernel specs and settings; return the server's environment."""
        folder = self._folder
        self.root.mkdir(parents=True, exist_ok=True)
        prefix = folder / "prefix"
        for kernel in KERNELS.values():
            install_kernel_spec(
                kernel.name,
                display_name=kernel.display_name,
                backend=kernel.backend,
                prefix=str(prefix),
            )
        config = folder / "config"
        config.mkdir(parents=True, exist_ok=True)
        (config / "jupyter_server_config.json").write_text(json.dumps(_SERVER_CONFIG))
        (config / "labconfig").mkdir(exist_ok=True)
        (config / "labconfig" / "page_config.json").write_text(json.dumps(_PAGE_CONFIG))
        settings = folder / "lab-settings"
        for relative, values in _LAB_SETTINGS.items():
            path = settings / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values), encoding="utf-8")
        env = dict(os.environ)
        env.update(
            JUPYTER_PATH=str(prefix / "share" / "jupyter"),
            JUPYTER_CONFIG_DIR=str(config),
            JUPYTER_DATA_DIR=str(folder / "data"),
            JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(folder / "workspaces"),
            IPYTHONDIR=str(folder / "ipython"),
            PYTHONUNBUFFERED="1",
        )
        env.pop("JUPYTER_PORT", None)
        return env

    def _wait_until_ready(self, runtime: Path) -> str:
        """Wait for the server file that names the chosen port, then for /api/status."""
        process = self._process
        assert process is not None
        deadline = time.monotonic() + START_TIMEOUT
        url = ""
        # Polling is the only way to learn of a file and a listening port from another process;
        # each poll is short and the whole wait is bounded.
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if not url:
                url = _server_url(runtime, process.pid)
            if url and _answers(f"{url}api/status?token={self.token}"):
                return url
            time.sleep(0.2)
        output = self.log.read_text(errors="replace")[-4000:]
        self.stop()
        raise RuntimeError(f"jupyter lab did not start (see {self.log}):\n{output}")


def _server_url(runtime: Path, pid: int) -> str:
    """The base URL from the server's ``jpserver-<pid>.json``, or '' until it is written."""
    try:
        info = json.loads((runtime / f"jpserver-{pid}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    return f"http://127.0.0.1:{info['port']}{info.get('base_url', '/')}"


def _answers(url: str) -> bool:
    """Tell whether a GET of ``url`` returns 200."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
