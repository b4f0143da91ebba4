"""Listening on the connection file's ports before the transport binds (``_listeners``).

The clients here never reconnect (``RECONNECT_IVL = -1``): a connection refused at the first
attempt stays down, so a message only arrives if the port was listening before the client
connected, which is what the kernel's early listening is for.
"""

from __future__ import annotations

import json
import queue
import socket
from typing import TYPE_CHECKING

import pytest
import zmq
from zmq.utils.monitor import recv_monitor_message

from async_kernel.messaging._connection import ConnectionInfo
from async_kernel.messaging._listeners import Listeners, listen
from async_kernel.messaging._message import Channel
from async_kernel.messaging.zmq import ZmqTransport

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

TIMEOUT_MS = 10_000
PORT_NAMES = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")


def free_ports(count: int) -> list[int]:
    """Ports the OS just handed out (as jupyter_client picks a kernel's ports)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def write_connection_file(path: Path, **fields: object) -> Path:
    data: dict[str, object] = {"transport": "tcp", "ip": "127.0.0.1", "key": "secret"}
    data.update(dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)), strict=True)))
    data.update(fields)
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def clients() -> Iterator[list[zmq.Socket[bytes]]]:
    """Client sockets that are closed at teardown (append them)."""
    sockets: list[zmq.Socket[bytes]] = []
    yield sockets
    for client in sockets:
        client.close(linger=0)


def connect_once(clients: list[zmq.Socket[bytes]], kind: int, port: int) -> zmq.Socket[bytes]:
    """A client socket that tries to connect once and never again; returns once it has.

    Fails when the connection was refused: then nothing listened on ``port``.
    """
    client: zmq.Socket[bytes] = zmq.Context.instance().socket(kind)
    clients.append(client)
    client.reconnect_ivl = -1
    monitor = client.get_monitor_socket()
    try:
        client.connect(f"tcp://127.0.0.1:{port}")
        while True:
            assert monitor.poll(TIMEOUT_MS), "no connection event"
            event = recv_monitor_message(monitor)["event"]
            if event != zmq.EVENT_CONNECT_DELAYED:
                break
        assert event == zmq.EVENT_CONNECTED, f"not connected: event {event}"
    finally:
        client.disable_monitor()
        monitor.close()
    return client


def test_requests_sent_before_the_transport_binds_arrive(
    tmp_path: Path, clients: list[zmq.Socket[bytes]]
) -> None:
    """A client that connected while the kernel was still importing is served on every port."""
    path = write_connection_file(tmp_path / "kernel.json")
    listeners = listen(str(path))
    assert len(listeners) == len(PORT_NAMES)
    info = ConnectionInfo.load(path)
    shell = connect_once(clients, zmq.DEALER, info.shell_port)
    control = connect_once(clients, zmq.DEALER, info.control_port)
    heartbeat = connect_once(clients, zmq.REQ, info.hb_port)
    shell.send_multipart([b"to shell"])
    control.send_multipart([b"to control"])
    heartbeat.send(b"ping")
    received: queue.Queue[tuple[Channel, list[bytes]]] = queue.Queue()
    transport = ZmqTransport(
        info, lambda channel, frames: received.put((channel, frames)), listeners=listeners
    )
    transport.start()
    try:
        assert len(listeners) == 0  # every port was adopted
        arrived = [received.get(timeout=TIMEOUT_MS / 1000) for _ in range(2)]
        by_channel = {channel: frames[-1] for channel, frames in arrived}
        assert by_channel == {Channel.shell: b"to shell", Channel.control: b"to control"}
        assert heartbeat.poll(TIMEOUT_MS)
        assert heartbeat.recv() == b"ping"
    finally:
        transport.stop()


def test_a_taken_port_is_left_to_the_transport(tmp_path: Path) -> None:
    """A port another process listens on is skipped; the others still listen."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        path = write_connection_file(tmp_path / "kernel.json", shell_port=taken.getsockname()[1])
        listeners = listen(str(path))
        try:
            assert len(listeners) == len(PORT_NAMES) - 1
            assert listeners.take(taken.getsockname()[1]) is None
        finally:
            listeners.close()


@pytest.mark.parametrize(
    "fields",
    [
        {"transport": "ipc", "ip": "kernel-ipc"},
        {"ip": "localhost"},  # not a literal address: the transport resolves it
        {"ip": "::1"},
    ],
)
def test_what_is_not_plain_ipv4_tcp_is_left_to_the_transport(
    tmp_path: Path, fields: dict[str, object]
) -> None:
    path = write_connection_file(tmp_path / "kernel.json", **fields)
    assert len(listen(str(path))) == 0


@pytest.mark.parametrize("content", [None, "not json", "[1, 2]", '{"shell_port": "1"}'])
def test_a_missing_or_invalid_file_is_left_to_the_kernel(
    tmp_path: Path, content: str | None
) -> None:
    """No error here: the kernel reports a bad connection file when it loads it."""
    path = tmp_path / "kernel.json"
    if content is not None:
        path.write_text(content)
    assert len(listen(str(path))) == 0


def test_close_releases_the_ports(tmp_path: Path) -> None:
    """Ports nobody adopted are closed, so they can be bound again."""
    path = write_connection_file(tmp_path / "kernel.json")
    listeners = listen(str(path))
    port = json.loads(path.read_text())["shell_port"]
    listeners.close()
    assert len(listeners) == 0
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))


def test_an_empty_set_takes_nothing() -> None:
    assert Listeners().take(1234) is None
