"""Starting real async-kernel subprocesses for tests, through jupyter_client.

Each kernel gets its own kernel-spec folder, IPython directory and OS-chosen ports, so tests
can run in parallel. ``KernelHarness`` adds the small waits every protocol test needs: for a
reply, and for the iopub messages of one request up to its ``status: idle``.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from pathlib import Path

    from jupyter_client.blocking.client import BlockingKernelClient

TIMEOUT = 30

HEARTBEAT_CHANNEL = False
"""Whether test clients start jupyter_client's heartbeat thread: no.

Its thread sets ``_running`` only once it has made its socket, so ``stop_channels`` soon
after ``start_channels`` on a loaded machine can leave it looping: each turn makes a new
socket, and the old ones linger for a second until ZeroMQ refuses with "Too many open files".
The heartbeat is tested with a socket of its own (tests/protocol/test_lifecycle.py).
"""


def write_spec(
    folder: Path,
    backend: str,
    extra_argv: Sequence[str] = (),
    interrupt_mode: str = "message",
    command: Sequence[str] = ("-m", "async_kernel"),
    argv: Sequence[str] | None = None,
) -> KernelSpecManager:
    """Write a kernel spec named ``test`` that runs ``command`` (async_kernel) in this Python.

    ``argv``, when given, is the spec's whole command line instead (an installed spec's).
    """
    spec_dir = folder / "kernels" / "test"
    spec_dir.mkdir(parents=True, exist_ok=True)
    if argv is not None:
        argv = list(argv)
    else:
        argv = [sys.executable, *command, "-f", "{connection_file}", *extra_argv]
        if backend != "asyncio":
            argv += ["--backend", backend]
    spec = {
        "argv": argv,
        "display_name": "test",
        "language": "python",
        "interrupt_mode": interrupt_mode,
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(folder / "kernels")])


class KernelHarness:
    """A running kernel and a blocking client connected to it."""

    def __init__(self, manager: KernelManager, client: BlockingKernelClient) -> None:
        self.manager = manager
        self.client = client
        self.without_threads = False
        """The kernel runs without threads or signals (the callable interface, as in Pyodide)."""
        self._unclaimed: dict[str, list[dict[str, Any]]] = {"shell": [], "control": [], "iopub": []}
        """Messages read while waiting for another request's, kept for their own waiter."""

    def _next(self, channel: str, msg_ids: set[str], timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next message on ``channel`` whose parent is one of ``msg_ids``."""
        unclaimed = self._unclaimed[channel]
        for index, msg in enumerate(unclaimed):
            if msg["parent_header"].get("msg_id") in msg_ids:
                return unclaimed.pop(index)
        get = getattr(self.client, f"get_{channel}_msg")
        while True:
            msg = get(timeout=timeout)
            if msg["parent_header"].get("msg_id") in msg_ids:
                return msg
            unclaimed.append(msg)

    def execute(self, code: str, **kwargs: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Run ``code``; return its execute_reply and its iopub messages up to idle."""
        msg_id = self.client.execute(code, **kwargs)
        reply = self.reply_for(msg_id)
        return reply, self.iopub_for(msg_id)

    def reply_for(
        self, msg_id: str, channel: str = "shell", timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        """Wait for the reply to ``msg_id`` on ``channel``."""
        return self._next(channel, {msg_id}, timeout)

    def reply_for_any(self, msg_ids: set[str], channel: str = "shell") -> dict[str, Any]:
        """Wait for the first reply to any of ``msg_ids``."""
        return self._next(channel, msg_ids)

    def iopub_for_started(self, msg_id: str) -> list[dict[str, Any]]:
        """Wait until the request's ``execute_input`` is on iopub; return what came so far.

        The messages stay available to a later :meth:`iopub_for`.
        """
        seen: list[dict[str, Any]] = []
        while True:
            msg = self._next("iopub", {msg_id})
            seen.append(msg)
            if msg["msg_type"] == "execute_input":
                self._unclaimed["iopub"][:0] = seen
                return seen

    def wait_for_output(self, msg_id: str, text: str) -> None:
        """Wait until the request has written ``text`` to a stream (messages stay unclaimed)."""
        seen: list[dict[str, Any]] = []
        while True:
            msg = self._next("iopub", {msg_id})
            seen.append(msg)
            if msg["msg_type"] == "stream" and text in msg["content"]["text"]:
                self._unclaimed["iopub"][:0] = seen
                return

    def iopub_for(self, msg_id: str) -> list[dict[str, Any]]:
        """Collect iopub messages whose parent is ``msg_id`` until its ``status: idle``."""
        messages: list[dict[str, Any]] = []
        while True:
            msg = self._next("iopub", {msg_id})
            messages.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return messages

    def next_iopub_of_type(self, msg_type: str) -> dict[str, Any]:
        """The next iopub message of ``msg_type``, whatever its parent; others stay unclaimed."""
        unclaimed = self._unclaimed["iopub"]
        for index, msg in enumerate(unclaimed):
            if msg["msg_type"] == msg_type:
                return unclaimed.pop(index)
        while True:
            msg = self.client.get_iopub_msg(timeout=TIMEOUT)
            if msg["msg_type"] == msg_type:
                return msg
            unclaimed.append(msg)

    def unclaimed(self, msg_id: str) -> list[dict[str, Any]]:
        """Messages already read (on any channel) whose parent is ``msg_id``, not yet claimed."""
        return [
            msg
            for messages in self._unclaimed.values()
            for msg in messages
            if msg["parent_header"].get("msg_id") == msg_id
        ]

    def send(self, channel: str, msg_type: str, content: dict[str, Any], **header: Any) -> str:
        """Send a request on ``shell`` or ``control``; return its msg_id."""
        msg = self.client.session.msg(msg_type, content)
        msg["header"].update(header)
        getattr(self.client, f"{channel}_channel").send(msg)
        return msg["header"]["msg_id"]


def outputs(messages: list[dict[str, Any]], msg_type: str) -> list[dict[str, Any]]:
    """The contents of the messages of one type."""
    return [m["content"] for m in messages if m["msg_type"] == msg_type]


def stdout_of(messages: list[dict[str, Any]]) -> str:
    """All stdout text in ``messages``."""
    return "".join(c["text"] for c in outputs(messages, "stream") if c["name"] == "stdout")


@contextmanager
def running_kernel(
    folder: Path,
    backend: str = "asyncio",
    *,
    extra_argv: Sequence[str] = (),
    log_path: Path | None = None,
    interrupt_mode: str = "message",
    env: Mapping[str, str | None] | None = None,
    command: Sequence[str] = ("-m", "async_kernel"),
    argv: Sequence[str] | None = None,
) -> Iterator[KernelHarness]:
    """Start a kernel subprocess on ``backend``; shut it down (and check it exits) after.

    ``extra_argv`` is added to the kernel's command line. The kernel's stdout and stderr (its
    log) go to ``log_path``, by default ``kernel.log`` in ``folder``: a failing test shows the
    logs of the kernels running then (see ``conftest``). ``env`` adds variables to the
    kernel's environment; a None value removes one. ``command`` is what the interpreter runs
    (another script serves the kernel through its callable interface); ``argv`` replaces the
    whole command line (``backend`` and ``extra_argv`` are then not used).
    """
    specs = write_spec(folder, backend, extra_argv, interrupt_mode, command, argv)
    manager = KernelManager(kernel_name="test", kernel_spec_manager=specs)
    merged = dict(
        os.environ,
        IPYTHONDIR=str(folder / "ipython"),
        PYTHONUNBUFFERED="1",
        PYTHONFAULTHANDLER="1",
        **(env or {}),
    )
    kernel_env = {name: value for name, value in merged.items() if value is not None}
    log_path = log_path or folder / "kernel.log"
    log_file = log_path.open("ab")  # open while the manager may restart the kernel
    manager.start_kernel(env=kernel_env, stdout=log_file, stderr=log_file)
    running_logs.append(log_path)
    client = None
    try:
        client = ready_client(manager, log_path)
        yield KernelHarness(manager, client)
    except BaseException:
        failed_logs.append(log_path)  # for the report of the test that failed
        _note_exit_status(manager, log_path)
        raise
    finally:
        if client is not None:
            client.stop_channels()
        manager.shutdown_kernel(now=False)
        log_file.close()
        running_logs.remove(log_path)


_PORT_ATTEMPTS = 3


def ready_client(manager: KernelManager, log_path: Path) -> BlockingKernelClient:
    """A client of the started kernel once it answers kernel_info.

    jupyter_client chooses the ports before the kernel binds them, and on a busy machine another
    process can take one meanwhile (an outgoing connection's ephemeral port): the kernel then
    exits with a ``PortInUseError``. As jupyter_client's restarter does for a kernel that dies
    before it was ever alive, it is started again on new ports; any other death fails the test.
    """
    deaths = 0
    while True:
        client = manager.client()
        client.start_channels(hb=HEARTBEAT_CHANNEL)
        try:
            client.wait_for_ready(timeout=TIMEOUT)
        except RuntimeError:
            client.stop_channels()
            deaths += 1
            log = log_path.read_text(errors="replace") if log_path.exists() else ""
            if deaths == _PORT_ATTEMPTS or log.count("PortInUseError") < deaths:
                raise
        else:
            return client
        # New ports, whoever chose the old ones (the port cache or the caller).
        for name in ("shell_port", "iopub_port", "stdin_port", "hb_port", "control_port"):
            setattr(manager, name, 0)
        manager.cleanup_connection_file()
        manager.restart_kernel(now=True)


def _note_exit_status(manager: KernelManager, log_path: Path) -> None:
    """Add the kernel's exit status to its log, if it has exited (a negative one: a signal)."""
    process = getattr(manager.provisioner, "process", None)
    status = None if process is None else process.poll()
    if status is not None:
        with log_path.open("a") as log_file:
            log_file.write(f"\n[test harness] the kernel exited with status {status}\n")


running_logs: list[Path] = []
"""The log files of the kernels this process runs now."""
failed_logs: list[Path] = []
"""The log files of kernels that failed during the current test."""


def log_tail(log_path: Path, lines: int = 100) -> str:
    """The last ``lines`` of a kernel's log."""
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"
