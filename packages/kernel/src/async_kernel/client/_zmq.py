"""`ZMQClient`: an async client of a kernel over ZeroMQ, on asyncio or trio.

The sockets live in one thread of the client's own (ZeroMQ sockets are not thread-safe): it
sends what the event loop queued, and hands what arrives to `KernelClient`, which wakes the
waiting task through a `Pending`. So no part of it belongs to one event loop library.
`ZMQClient.subprocess_kernel` starts a kernel from its kernel spec, as Jupyter would, and
connects to it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import signal
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import anyio
import zmq

from ..messaging._codec import MessageCodec
from ..messaging._connection import ConnectionInfo
from ..messaging._message import Channel
from ._base import DEFAULT_TIMEOUT, ClientError, KernelClient, KernelReply, _message_dict

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping
    from types import TracebackType

    from anyio.abc import Process

__all__ = ["ZMQClient", "find_kernel_spec"]

log = logging.getLogger(__name__)

_SOCKET_TYPES = {
    Channel.shell: zmq.DEALER,
    Channel.control: zmq.DEALER,
    Channel.stdin: zmq.DEALER,
    Channel.iopub: zmq.SUB,
}
_PORTS = {
    Channel.shell: "shell_port",
    Channel.control: "control_port",
    Channel.stdin: "stdin_port",
    Channel.iopub: "iopub_port",
}
_READY_PROBE = 0.5
"""Seconds to wait for a kernel_info's output before asking again while connecting.

A SUB socket gets messages only once its subscription has reached the kernel, which takes a
moment after connecting; until a probe's output arrives, output could be missed.
"""


_START_ATTEMPTS = 3
"""How many times a kernel that dies before it answers is started (see ``_start_process``)."""

_SHUTDOWN_GRACE = 10.0
"""Seconds a kernel process gets to shut down when asked before it is killed."""


class ZMQClient(KernelClient):
    """An async client of one kernel over ZeroMQ, for asyncio and trio alike.

    Use ``async with ZMQClient(info) as client:`` for a kernel that runs already, or
    ``async with ZMQClient.subprocess_kernel(name="async") as client:`` to start one.
    Requests are the methods of `KernelClient` (``kernel_info``, ``execute``, ``complete``,
    ``inspect``, ``interrupt``, ``shutdown``).
    """

    def __init__(self, info: ConnectionInfo) -> None:
        super().__init__(MessageCodec(info.key, info.signature_scheme))
        self.info = info
        self._outbox: queue.SimpleQueue[tuple[Channel, list[bytes | memoryview]] | None] = (
            queue.SimpleQueue()
        )
        self._context: zmq.Context[zmq.Socket[bytes]] | None = None
        self._thread: threading.Thread | None = None
        self._waker: zmq.Socket[bytes] | None = None
        self._lock_waker = threading.Lock()
        self._process: Process | None = None
        self._interrupt_mode = "message"
        self._shutdown_sent = False

    # --- connecting ----------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        """Connect, and wait until the kernel answers and its output reaches this client."""
        self.connect()
        try:
            await self.wait_for_ready()
        except BaseException:
            self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the sockets (the kernel goes on)."""
        self.close()

    def connect(self) -> None:
        """Open the sockets and the thread that serves them."""
        if self._thread is not None:
            return
        context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._context = context
        address = f"inproc://async-kernel-client-{id(self)}"
        receiver = context.socket(zmq.PAIR)
        receiver.bind(address)
        self._waker = context.socket(zmq.PAIR)
        self._waker.connect(address)
        sockets: dict[Channel, zmq.Socket[bytes]] = {}
        for channel, kind in _SOCKET_TYPES.items():
            sock = context.socket(kind)
            sock.setsockopt(zmq.LINGER, 0)
            if kind == zmq.SUB:
                sock.setsockopt(zmq.SUBSCRIBE, b"")
            else:
                sock.setsockopt(zmq.IDENTITY, f"{self.session}-{channel}".encode())
            sock.connect(self.info.url(getattr(self.info, _PORTS[channel])))
            sockets[channel] = sock
        self._thread = threading.Thread(
            target=self._serve, args=(receiver, sockets), name="async-kernel-client", daemon=True
        )
        self._thread.start()

    async def wait_for_ready(self) -> None:
        """Wait until a kernel_info request gets its reply and its output through iopub.

        Raises:
            ClientError: the kernel did not answer within `timeout` seconds, or its
                process ended.
        """
        with anyio.move_on_after(self.timeout):
            while True:
                self._check_process()
                with contextlib.suppress(ClientError):
                    await self._request(
                        "kernel_info_request", {}, Channel.shell, None, None, True, _READY_PROBE
                    )
                    return
        raise ClientError(f"the kernel did not answer within {self.timeout} s")

    def close(self) -> None:
        """Stop the socket thread and close the sockets (idempotent)."""
        thread = self._thread
        if thread is None:
            return
        self._thread = None
        self._outbox.put(None)
        self._wake()
        thread.join()
        with self._lock_waker:
            if self._waker is not None:
                self._waker.close(linger=0)
                self._waker = None
        if self._context is not None:
            self._context.term()
            self._context = None

    # --- the socket thread ---------------------------------------------------------------------

    def _send(self, channel: Channel, frames: list[bytes | memoryview]) -> None:
        self._outbox.put((channel, frames))
        self._wake()

    def _check_usable(self) -> None:
        if self._thread is None:
            raise ClientError("the ZMQClient is not connected: use it in 'async with'")

    def _wake(self) -> None:
        with self._lock_waker:
            if self._waker is not None:
                self._waker.send(b"")

    def _serve(
        self, receiver: zmq.Socket[bytes], sockets: dict[Channel, zmq.Socket[bytes]]
    ) -> None:
        """Send what is queued and deliver what arrives until closed (the socket thread)."""
        poller = zmq.Poller()
        poller.register(receiver, zmq.POLLIN)
        channels = {sock: channel for channel, sock in sockets.items()}
        for sock in sockets.values():
            poller.register(sock, zmq.POLLIN)
        try:
            while True:
                for sock, _ in poller.poll():
                    if sock is receiver:
                        receiver.recv()
                        if not self._send_queued(sockets):
                            return
                        continue
                    channel = channels[sock]
                    frames = sock.recv_multipart(copy=True)
                    try:
                        message = self._codec.deserialize(channel, frames)
                    except Exception:  # noqa: BLE001 - a bad message is dropped, not fatal
                        log.warning("dropped a message on %s that did not decode", channel)
                        continue
                    self._receive_message(
                        channel,
                        _message_dict(
                            message.header,
                            message.parent_header,
                            message.metadata,
                            message.content,
                            message.buffers,
                        ),
                    )
        finally:
            receiver.close(linger=0)
            for sock in sockets.values():
                sock.close(linger=0)

    def _send_queued(self, sockets: dict[Channel, zmq.Socket[bytes]]) -> bool:
        while True:
            try:
                item = self._outbox.get_nowait()
            except queue.Empty:
                return True
            if item is None:
                return False
            channel, frames = item
            sockets[channel].send_multipart(frames)

    # --- a kernel process ----------------------------------------------------------------------

    @classmethod
    @contextlib.asynccontextmanager
    async def subprocess_kernel(
        cls,
        name: str = "async",
        *,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = DEFAULT_TIMEOUT,
    ) -> AsyncIterator[ZMQClient]:
        """Start the kernel of kernel spec ``name`` in a new process and connect to it.

        On leaving the block the kernel is asked to shut down, and killed if it does not.

        Args:
            name: A kernel spec name, as ``jupyter kernelspec list`` shows them.
            env: Extra environment variables for the kernel process.
            startup_timeout: Seconds to wait for the kernel to start and answer.

        Raises:
            ClientError: no kernel spec has that name, or the kernel did not start.
        """
        spec_dir, spec = find_kernel_spec(name)
        with tempfile.TemporaryDirectory(prefix="async-kernel-client-") as folder:
            client = await cls._start_process(spec_dir, spec, env, startup_timeout, Path(folder))
            try:
                yield client
            finally:
                await client._stop_process()

    @classmethod
    async def _start_process(
        cls,
        spec_dir: Path,
        spec: dict[str, Any],
        env: Mapping[str, str] | None,
        startup_timeout: float,
        folder: Path,
    ) -> ZMQClient:
        """Start the kernel process and connect; start it again if it dies before answering.

        The ports are chosen free, then bound by the kernel a moment later: on a busy machine
        another process can take one meanwhile, and the kernel exits. As jupyter_client's
        restarter does, a kernel that dies before it ever answered is started again on new
        ports, a few times.
        """
        # As jupyter_client does: the kernel ends itself if this process dies without
        # shutting it down (it watches JPY_PARENT_PID).
        environment = {
            **os.environ,
            "JPY_PARENT_PID": str(os.getpid()),
            **spec.get("env", {}),
            **(env or {}),
        }
        for attempt in range(1, _START_ATTEMPTS + 1):
            connection_file = folder / f"kernel-{attempt}.json"
            info = ConnectionInfo.generate()
            info = info.with_ports(_free_ports(info.ip))
            info.write(connection_file)
            argv = [
                str(part).format(connection_file=connection_file, resource_dir=spec_dir)
                for part in spec["argv"]
            ]
            process = await anyio.open_process(
                argv, env=environment, stdin=subprocess.DEVNULL, stdout=None, stderr=None
            )
            client = cls(info)
            client._process = process
            client._interrupt_mode = str(spec.get("interrupt_mode", "signal"))
            client.connect()
            timeout, client.timeout = client.timeout, startup_timeout
            try:
                await client.wait_for_ready()
            except BaseException:
                died = process.returncode is not None
                await client._stop_process()
                if died and attempt < _START_ATTEMPTS:
                    log.warning("the kernel exited before it answered; starting it again")
                    continue
                raise
            client.timeout = timeout
            return client
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _check_process(self) -> None:
        process = self._process
        if process is not None and process.returncode is not None:
            raise ClientError(f"the kernel process exited with status {process.returncode}")

    async def interrupt(self) -> KernelReply | None:
        """Interrupt the running cells: a message, or SIGINT if the spec's mode is ``signal``.

        Returns:
            The interrupt_reply, or None when a signal was sent.
        """
        process = self._process
        if process is not None and self._interrupt_mode == "signal":
            process.send_signal(signal.SIGINT)
            return None
        return await super().interrupt()

    async def shutdown(self, *, restart: bool = False) -> KernelReply:
        """Ask the kernel to shut down (on the control channel); see `KernelClient.shutdown`."""
        self._shutdown_sent = True
        return await super().shutdown(restart=restart)

    async def _stop_process(self) -> None:
        """Shut the kernel down: ask (unless asked already), wait for it to exit, else kill it."""
        process = self._process
        try:
            if process is not None and process.returncode is None:
                with anyio.move_on_after(_SHUTDOWN_GRACE, shield=True):
                    if not self._shutdown_sent:
                        with contextlib.suppress(ClientError):
                            await self.shutdown()
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    with anyio.CancelScope(shield=True):
                        await process.wait()
        finally:
            self.close()


def _free_ports(ip: str) -> dict[str, int]:
    """Five ports the OS says are free now (the kernel binds them a moment later)."""
    ports: dict[str, int] = {}
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    held = []
    for name in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"):
        sock = context.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        ports[name] = sock.bind_to_random_port(f"tcp://{ip}")
        held.append(sock)
    for sock in held:
        sock.close()
    return ports


def find_kernel_spec(name: str) -> tuple[Path, dict[str, Any]]:
    """Return the directory and content of the kernel spec called ``name``, as Jupyter finds it.

    Raises:
        ClientError: no spec has that name (the message lists the names found).
    """
    from jupyter_core.paths import jupyter_path

    found: list[str] = []
    for folder in map(Path, jupyter_path("kernels")):
        spec_dir = folder / name.lower()
        spec_file = spec_dir / "kernel.json"
        if spec_file.is_file():
            spec = json.loads(spec_file.read_text(encoding="utf-8"))
            if isinstance(spec, dict) and isinstance(spec.get("argv"), list):
                return spec_dir, spec
        if folder.is_dir():
            found += [entry.name for entry in folder.iterdir() if (entry / "kernel.json").is_file()]
    names = ", ".join(sorted(set(found))) or "none"
    raise ClientError(
        f"no kernel spec named {name!r} (found: {names}); install one with: async-kernel install"
    )
