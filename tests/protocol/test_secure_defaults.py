"""Secure defaults of a kernel started from the command line with no connection file.

``async-kernel start -f NEW_FILE`` writes the file itself: owner-only, a fresh key, sockets
on 127.0.0.1 unless ``--ip`` says otherwise. Its log, at DEBUG level and after bad messages,
never shows the key.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient

from tests.kernel_fixtures import HEARTBEAT_CHANNEL, TIMEOUT
from tests.protocol.conftest import BACKENDS
from tests.protocol.raw_wire import RawClient, header

if TYPE_CHECKING:
    from collections.abc import Iterator

WROTE = "wrote connection file"


class CommandLineKernel:
    """``python -m async_kernel start -f PATH`` with its log read in a thread."""

    def __init__(self, folder: Path, backend: str, extra_argv: list[str]) -> None:
        self.path = folder / "new-kernel.json"
        argv = [sys.executable, "-m", "async_kernel", "start", "-f", str(self.path)]
        argv += ["--backend", backend, "--log-level", "DEBUG", *extra_argv]
        env = dict(os.environ, IPYTHONDIR=str(folder / "ipython"), PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True
        )
        self.log_lines: list[str] = []
        self.file_written = threading.Event()
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()

    def _read_log(self) -> None:
        stream = self.process.stderr
        assert stream is not None
        with stream:
            for line in stream:
                self.log_lines.append(line)
                if WROTE in line:
                    self.file_written.set()
        self.file_written.set()  # the process ended: stop waiting either way

    def log(self) -> str:
        """Everything the kernel logged, once it has exited."""
        self._reader.join(TIMEOUT)
        return "".join(self.log_lines)

    def connection(self) -> dict[str, Any]:
        """The connection file's content, once the kernel has written it."""
        assert self.file_written.wait(TIMEOUT), "the kernel never wrote its connection file"
        return json.loads(self.path.read_text())


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend the kernel runs on."""
    return request.param


@pytest.fixture
def start_kernel(tmp_path: Path, backend: str) -> Iterator[Any]:
    """Start command-line kernels; kill any still running at teardown."""
    started: list[CommandLineKernel] = []

    def start(*extra_argv: str) -> CommandLineKernel:
        kernel = CommandLineKernel(tmp_path, backend, list(extra_argv))
        started.append(kernel)
        return kernel

    yield start
    for kernel in started:
        if kernel.process.poll() is None:
            kernel.process.kill()
            kernel.process.wait()


def listening_addresses(pid: int, ports: set[int]) -> set[str]:
    """The hex local addresses (as in /proc/net/tcp) where process ``pid`` listens on ``ports``.

    Matched by socket inode, not port alone: a kernel of a parallel test may listen on the
    same port number at another address.
    """
    inodes: set[str] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    addresses: set[str] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        address, port = fields[1].split(":")
        if int(port, 16) in ports and fields[3] == "0A" and fields[9] in inodes:
            addresses.add(address)
    return addresses


def client_for(path: Path) -> BlockingKernelClient:
    """A started, ready client for the kernel whose connection file is ``path``."""
    client = BlockingKernelClient(connection_file=str(path))
    client.load_connection_file()
    client.start_channels(hb=HEARTBEAT_CHANNEL)
    client.wait_for_ready(timeout=TIMEOUT)
    return client


PORT_NAMES = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table")
@pytest.mark.parametrize(
    ("extra_argv", "address", "hex_address"),
    [
        pytest.param([], "127.0.0.1", "0100007F", id="default"),
        pytest.param(["--ip", "127.0.0.2"], "127.0.0.2", "0200007F", id="told-otherwise"),
    ],
)
def test_written_connection_file_is_owner_only_and_binds_loopback(
    start_kernel: Any, extra_argv: list[str], address: str, hex_address: str
) -> None:
    kernel: CommandLineKernel = start_kernel(*extra_argv)
    info = kernel.connection()
    assert stat.S_IMODE(kernel.path.stat().st_mode) == 0o600
    assert info["ip"] == address
    assert info["signature_scheme"] == "hmac-sha256"
    assert len(info["key"]) == 64
    ports = {info[name] for name in PORT_NAMES}
    assert listening_addresses(kernel.process.pid, ports) == {hex_address}
    client = client_for(kernel.path)
    try:
        reply = client.execute_interactive("x = 1", timeout=TIMEOUT)
        assert reply["content"]["status"] == "ok"
        client.shutdown()
    finally:
        client.stop_channels()
    assert kernel.process.wait(TIMEOUT) == 0
    assert not kernel.path.exists(), "the kernel removes the file it wrote"


def test_key_never_appears_in_the_log(start_kernel: Any) -> None:
    kernel: CommandLineKernel = start_kernel()
    info = kernel.connection()
    raw = RawClient(info)
    try:
        replayed = raw.frames(header("kernel_info_request"))
        forged = raw.frames(header("kernel_info_request"), signature=info["key"].encode())
        broken = raw.frames(header("kernel_info_request"), raw_parts={"content": b"{"})
        for frames in (replayed, replayed, forged, broken):
            raw.send_frames("shell", frames)
        failing = raw.request("shell", "execute_request", {"code": "raise ValueError('no')"})
        received = [raw.receive("shell") for _ in range(3)]
        raw.request("control", "shutdown_request", {"restart": False})
        assert raw.receive("control")["msg_type"] == "shutdown_reply"
    finally:
        raw.close()
    assert {reply["parent_header"]["msg_id"] for reply in received} >= {failing}
    assert kernel.process.wait(TIMEOUT) == 0
    log = kernel.log()
    assert "replayed message rejected" in log
    assert "invalid message signature" in log
    assert info["key"] not in log
