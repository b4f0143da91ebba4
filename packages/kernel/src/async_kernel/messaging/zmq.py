"""ZeroMQ sockets, the IO thread that owns them, and the heartbeat.

ZeroMQ sockets must not be used from two threads at once, so one IO thread owns the shell,
control, stdin and iopub sockets: it receives and hands frames to the kernel's dispatcher, and
sends every outgoing message that any thread queued with :meth:`ZmqTransport.send`. A queued
message wakes the IO thread through a pipe, written only when the thread is not already awake
(one syscall per burst, not per message).

When a request arrives, the IO thread opens a short quiet window (:data:`QUIET_WINDOW`) before
handing it on: messages queued meanwhile do not wake it; it wakes when the window ends or when an
urgent message (a request's final ``status: idle``, an input request) is queued. A quick
request's busy, execute_input, reply and idle then leave in one burst, and the IO thread does not
take the GIL from the handler halfway through: each wake cost the handler's thread a GIL
hand-over, about a fifth of a quick cell's time.

The heartbeat runs ``zmq.proxy`` on its own socket and context: it echoes inside libzmq without
taking the GIL, so it answers while a cell holds the GIL in a pure-Python loop.

When the connection carries a Curve key pair, every socket (heartbeat included) is made a
CurveZMQ server before it binds or adopts a listening descriptor: libzmq reads the security
mechanism of a connection when it accepts it, so a socket given its keys after binding would
accept its first peers in clear.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import aiologic
import anyio
import zmq

from ._message import Channel

if TYPE_CHECKING:
    from ._connection import ConnectionInfo
    from ._listeners import Listeners

__all__ = ["PortInUseError", "TransportEncryptionError", "ZmqTransport"]

log = logging.getLogger(__name__)

Frames = Sequence[bytes | memoryview]
_RECV_BATCH = 64
_READ_WAITING_TIMEOUT = 5.0
"""Seconds :meth:`ZmqTransport.read_waiting` waits for a busy IO thread at most."""
QUIET_WINDOW = 0.002
"""Seconds after a request arrives during which only urgent messages wake the IO thread."""
STDIN_PEER_WAIT = 30.0
"""Seconds an input request waits for its frontend's stdin socket to connect."""
STDIN_PEER_RETRY = 0.005
"""Seconds between attempts to send an input request to a frontend not connected yet."""
_NOT_DELIVERABLE_YET = (zmq.EHOSTUNREACH, zmq.EAGAIN)


class PortInUseError(OSError):
    """A port named in the connection file is taken by another process."""


class TransportEncryptionError(RuntimeError):
    """The connection asks for CurveZMQ encryption and this libzmq cannot provide it."""


class ZmqTransport:
    """Binds the kernel's sockets and runs the IO and heartbeat threads.

    ``on_frames(channel, frames)`` is called in the IO thread for every message received on
    shell, control and stdin; it must not block. ``listeners`` are sockets already listening
    on ports of ``info`` (see ``_listeners``): those ports are adopted, not bound again.
    """

    def __init__(
        self,
        info: ConnectionInfo,
        on_frames: Callable[[Channel, list[bytes]], None],
        *,
        listeners: Listeners | None = None,
    ) -> None:
        self.info = info
        self._listeners = listeners
        self._on_frames = on_frames
        self._context = zmq.Context()
        self._hb_context = zmq.Context()
        self._sockets: dict[Channel, zmq.Socket[bytes]] = {}
        self._outbox: queue.SimpleQueue[tuple[Channel, Frames] | Callable[[], object]] = (
            queue.SimpleQueue()
        )
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._awake_requested = False
        self._quiet_until: float | None = None
        """When the quiet window ends (IO thread only; None when there is none)."""
        self._timers: list[tuple[float, int, Callable[[], object]]] = []
        self._timer_ids = itertools.count()
        self._stopping = False
        self._io_thread = threading.Thread(target=self._run_io, name="async-kernel-io", daemon=True)
        self._hb_thread = threading.Thread(
            target=self._run_heartbeat, name="async-kernel-heartbeat", daemon=True
        )
        self._hb_socket: zmq.Socket[bytes] | None = None
        self._forked_child = False
        os.register_at_fork(after_in_child=self._after_fork_in_child)
        self.ports: dict[str, int] = {}
        self.on_bound: Callable[[dict[str, int]], object] | None = None
        """Called with the bound ports once every socket is bound (in :meth:`start`)."""

    # --- set-up -------------------------------------------------------------------------

    def _secure(self, socket: zmq.Socket[bytes]) -> None:
        """Make ``socket`` a CurveZMQ server when the connection asks for it (before binding)."""
        info = self.info
        if not info.encrypted:
            return
        socket.curve_server = True
        socket.curve_secretkey = info.curve_secretkey
        socket.curve_publickey = info.curve_publickey

    def _bind(self, socket: zmq.Socket[bytes], port: int, name: str) -> None:
        self._secure(socket)
        if port:
            listening = self._listeners.take(port) if self._listeners is not None else None
            if listening is not None:
                # libzmq ignores the address and accepts on this descriptor, closing it
                # with the socket.
                socket.set(zmq.USE_FD, listening)
            try:
                socket.bind(self.info.url(port))
            except zmq.ZMQError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                # The frontend chose the port before the kernel started; another process took
                # it meanwhile. jupyter_client's restarter starts the kernel again on new ports.
                msg = (
                    f"{name} {port} of the connection file is already in use by another"
                    " process; start the kernel again with new ports"
                )
                raise PortInUseError(msg) from exc
        elif self.info.transport == "tcp":
            port = socket.bind_to_random_port(f"tcp://{self.info.ip}")
        else:
            msg = f"{name} needs an explicit port number with the ipc transport"
            raise ValueError(msg)
        self.ports[name] = port

    def start(self) -> None:
        """Bind every socket and start the IO and heartbeat threads (call once).

        Raises:
            TransportEncryptionError: the connection carries Curve keys but libzmq was built
                without CurveZMQ.
            PortInUseError: a port of the connection file is taken.
        """
        info = self.info
        if info.encrypted and not zmq.has("curve"):
            msg = (
                "the connection file asks for CurveZMQ transport encryption, but this libzmq "
                "has no CURVE support; install a pyzmq wheel built with libsodium"
            )
            raise TransportEncryptionError(msg)
        for channel, port in (
            (Channel.shell, info.shell_port),
            (Channel.control, info.control_port),
            (Channel.stdin, info.stdin_port),
        ):
            socket = self._context.socket(zmq.ROUTER)
            socket.linger = 1000
            if channel is Channel.stdin:
                # Refuse rather than drop a message for a peer that is not connected: see
                # _send_to_stdin_peer.
                socket.router_mandatory = 1
            self._bind(socket, port, f"{channel}_port")
            self._sockets[channel] = socket
        iopub = self._context.socket(zmq.PUB)
        iopub.linger = 1000
        iopub.sndhwm = 0  # never drop output for a slow frontend: losing a line is worse
        self._bind(iopub, info.iopub_port, "iopub_port")
        self._sockets[Channel.iopub] = iopub
        hb = self._hb_context.socket(zmq.ROUTER)
        hb.linger = 0
        self._bind(hb, info.hb_port, "hb_port")
        self._hb_socket = hb
        if self._listeners is not None:
            self._listeners.close()  # none should be left: each port was adopted
        if self.on_bound is not None:
            self.on_bound(dict(self.ports))
        self._hb_thread.start()
        self._io_thread.start()

    # --- API for any thread -------------------------------------------------------------

    def send(self, channel: Channel, frames: Frames, *, urgent: bool = False) -> None:
        """Queue ``frames`` to be sent on ``channel`` by the IO thread (any thread).

        An ``urgent`` message leaves at once; others may wait for the end of the quiet window,
        a few milliseconds at most (see the module's docstring).
        """
        if self._forked_child:
            self._refuse_in_forked_child(channel)
            return
        self._outbox.put((channel, frames))
        self._wake(force=urgent)

    def call_soon(self, func: Callable[[], object]) -> None:
        """Run ``func`` in the IO thread soon (any thread)."""
        if self._forked_child:
            return
        self._outbox.put(func)
        self._wake(force=True)

    def call_later(self, delay: float, func: Callable[[], object]) -> None:
        """Run ``func`` in the IO thread after ``delay`` seconds (any thread)."""
        deadline = time.monotonic() + delay
        self.call_soon(lambda: self._add_timer(deadline, func))

    def _add_timer(self, deadline: float, func: Callable[[], object]) -> None:
        """Run ``func`` at ``deadline`` (monotonic seconds); IO thread only."""
        heapq.heappush(self._timers, (deadline, next(self._timer_ids), func))

    async def read_waiting(self, channel: Channel) -> None:
        """Have the IO thread read every message already waiting on ``channel``.

        Awaited in a handler's event loop (any thread but IO). When it returns, every
        request that reached the socket before the call has been handed to the dispatcher,
        so ``Dispatcher.last_seq`` counts it: a failing cell uses this to abort exactly the
        cells its client had sent before the failure (stop_on_error), however busy the IO
        thread was. Returns at once if the transport stops meanwhile.
        """
        if self._stopping or self._forked_child:
            return
        done = aiologic.Event()

        def read_all() -> None:
            try:
                socket = self._sockets[channel]
                while self._receive(channel, socket):
                    pass
            finally:
                done.set()

        self.call_soon(read_all)
        with anyio.move_on_after(_READ_WAITING_TIMEOUT):
            await done

    @property
    def in_io_thread(self) -> bool:
        """Whether the caller runs in the IO thread."""
        return threading.current_thread() is self._io_thread

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is queued, close the sockets and end both threads (any thread but IO)."""
        if self._stopping:
            return
        self._stopping = True
        self._wake(force=True)
        if self._io_thread.is_alive():
            self._io_thread.join(timeout)
        self._context.term()
        self._hb_context.term()
        self._hb_thread.join(timeout)
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)

    # --- a process forked by a cell -------------------------------------------------------

    def _after_fork_in_child(self) -> None:
        """Cut a forked child off the kernel's sockets (runs in the child, right after fork).

        The sockets belong to the parent: the child has no IO thread, and ZeroMQ sockets must
        not be used across a fork. Its output and messages are dropped, never sent, and the
        wake pipe (shared with the parent) is left alone.
        """
        self._forked_child = True

    def _refuse_in_forked_child(self, channel: Channel) -> None:
        # Only the kernel's own request handling replies on shell or control: a child that
        # gets there returned from its cell into the kernel's code (forked and neither
        # exec'd nor exited), and would linger forever as a deaf copy of the kernel.
        if channel in (Channel.shell, Channel.control):
            os._exit(0)

    # --- IO thread ------------------------------------------------------------------------

    def _wake(self, force: bool = False) -> None:
        # Callers queue first, then read the flag; the IO thread clears the flag before it
        # empties the queue: so a message whose sender saw the flag set is always sent.
        if self._awake_requested and not force:
            return
        self._awake_requested = True
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_write, b"\0")

    def _drain_wake_pipe(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self._wake_read, 4096):
                pass

    def _flush_outbox(self) -> None:
        sockets = self._sockets
        outbox = self._outbox
        while True:
            try:
                item = outbox.get_nowait()
            except queue.Empty:
                return
            if callable(item):
                try:
                    item()
                except Exception:
                    log.exception("callback in the IO thread failed")
                continue
            channel, frames = item
            if channel is Channel.stdin:
                self._send_to_stdin_peer(frames, time.monotonic() + STDIN_PEER_WAIT)
                continue
            try:
                sockets[channel].send_multipart(frames, copy=False)
            except zmq.ZMQError as exc:
                log.warning("dropped a %s message: %s", channel, exc)

    def _send_to_stdin_peer(self, frames: Frames, deadline: float) -> None:
        """Send an input request, waiting until ``deadline`` for its frontend to connect (IO thread).

        A frontend connects each of its sockets on its own, so a cell can ask for input
        before the stdin socket of the frontend that ran it is connected (a client that
        starts its channels and executes at once, on a busy machine). A ROUTER socket drops
        a message for a peer it does not know; with ``router_mandatory`` it refuses instead,
        and the request is tried again until the peer is there.
        """
        try:
            self._sockets[Channel.stdin].send_multipart(frames, copy=False, flags=zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            now = time.monotonic()
            if exc.errno in _NOT_DELIVERABLE_YET and now < deadline:
                self._add_timer(
                    now + STDIN_PEER_RETRY, lambda: self._send_to_stdin_peer(frames, deadline)
                )
            else:
                log.warning(
                    "dropped an input request: the frontend's stdin socket is not connected (%s)",
                    exc,
                )

    def _run_timers(self) -> float | None:
        timers = self._timers
        now = time.monotonic()
        while timers and timers[0][0] <= now:
            _, _, func = heapq.heappop(timers)
            try:
                func()
            except Exception:
                log.exception("timer in the IO thread failed")
        return max(0.0, timers[0][0] - now) if timers else None

    def _receive(self, channel: Channel, socket: zmq.Socket[Any]) -> bool:
        """Read up to a batch of messages; return whether more may be waiting."""
        on_frames = self._on_frames
        for _ in range(_RECV_BATCH):
            try:
                frames: list[bytes] = socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return False
            if self._quiet_until is None:
                # Before handing the request on: its handler may start (and send) at once.
                self._quiet_until = time.monotonic() + QUIET_WINDOW
                self._awake_requested = True
            try:
                on_frames(channel, frames)
            except Exception:
                log.exception("dispatching a %s message failed", channel)
        return True

    def _run_io(self) -> None:
        poller = zmq.Poller()
        by_socket: dict[Any, Channel] = {}
        for channel in (Channel.control, Channel.shell, Channel.stdin):
            poller.register(self._sockets[channel], zmq.POLLIN)
            by_socket[self._sockets[channel]] = channel
        poller.register(self._wake_read, zmq.POLLIN)
        try:
            while True:
                quiet = self._quiet_remaining()
                if quiet is None:
                    self._awake_requested = False
                self._flush_outbox()
                wait = self._run_timers()
                if self._stopping:
                    break
                if quiet is not None:
                    wait = quiet if wait is None else min(wait, quiet)
                events = poller.poll(None if wait is None else max(1, round(wait * 1000)))
                # Control first: it must never wait behind shell traffic.
                events.sort(key=lambda event: by_socket.get(event[0]) is not Channel.control)
                for socket, _ in events:
                    if socket == self._wake_read:
                        self._drain_wake_pipe()
                        self._quiet_until = None  # an urgent message ends the window
                    else:
                        self._receive(by_socket[socket], socket)
            self._flush_outbox()
        finally:
            for socket in self._sockets.values():
                socket.close()

    def _quiet_remaining(self) -> float | None:
        """Seconds left in the quiet window; None once it is over (which ends it)."""
        if self._quiet_until is None:
            return None
        remaining = self._quiet_until - time.monotonic()
        if remaining > 0:
            return remaining
        self._quiet_until = None
        return None

    def _run_heartbeat(self) -> None:
        socket = self._hb_socket
        assert socket is not None
        try:
            zmq.proxy(socket, socket)
        except zmq.ContextTerminated:
            pass
        except zmq.ZMQError as exc:  # pragma: no cover - only on socket failure
            log.error("heartbeat stopped: %s", exc)
        finally:
            socket.close(linger=0)
