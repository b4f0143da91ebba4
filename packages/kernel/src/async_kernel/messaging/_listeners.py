"""Listening on the connection file's ports first thing, before the kernel is imported.

A frontend launches the kernel and connects at once. A ZeroMQ connect to a port nobody listens
on yet is refused, and libzmq retries only after its reconnect interval (100 ms plus up to 100 ms
of jitter by default). A kernel that binds after importing IPython and the rest (about 0.15 s)
therefore got its first request up to 0.2 s after it could have answered it.

So the kernel opens plain listening TCP sockets on the ports of the connection file as soon as
the command line has read its arguments: the operating system accepts the frontend's
connections into the listen backlog while the kernel imports. The ZeroMQ transport later adopts
each socket (``ZMQ_USE_FD``) instead of binding a new one, accepts the waiting connections and
reads the requests they already carry.

This is only a head start: any port it cannot listen on (taken, an address that is not an IPv4
literal, an ipc transport, a file that is missing or invalid) is left to the transport, which
binds it itself and reports errors as before. This module imports only the standard library
modules it needs, so that the listening starts early.
"""

from __future__ import annotations

import json
import socket
import sys

__all__ = ["Listeners", "listen"]

_PORT_NAMES = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
_BACKLOG = 100
"""libzmq's own default backlog for the sockets it binds."""


class Listeners:
    """Listening socket descriptors by port, until the transport adopts them.

    Owned by the main thread; a descriptor taken with :meth:`take` belongs to the taker (a
    ZeroMQ socket closes it), the others are closed by :meth:`close`.
    """

    def __init__(self, descriptors: dict[int, int] | None = None) -> None:
        self._descriptors = dict(descriptors or {})

    def __len__(self) -> int:
        return len(self._descriptors)

    def take(self, port: int) -> int | None:
        """Hand over the descriptor listening on ``port``, or None when there is none."""
        return self._descriptors.pop(port, None)

    def close(self) -> None:
        """Close the descriptors nobody took (their waiting connections are reset)."""
        descriptors, self._descriptors = self._descriptors, {}
        for descriptor in descriptors.values():
            socket.close(descriptor)


def listen(connection_file: str) -> Listeners:
    """Listen on every TCP port ``connection_file`` names that can be listened on now.

    Never raises: what cannot be listened on here is bound (or reported) by the transport.
    """
    if sys.platform == "win32":  # ZMQ_USE_FD takes a POSIX descriptor
        return Listeners()
    try:
        with open(connection_file, encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, ValueError):
        return Listeners()
    if not isinstance(data, dict) or data.get("transport", "tcp") != "tcp":
        return Listeners()
    ip = data.get("ip") or "127.0.0.1"
    if not _is_ipv4_literal(ip):
        return Listeners()
    descriptors: dict[int, int] = {}
    for name in _PORT_NAMES:
        port = data.get(name)
        if type(port) is int and 0 < port < 65536 and port not in descriptors:
            descriptor = _listen_on(ip, port)
            if descriptor is not None:
                descriptors[port] = descriptor
    return Listeners(descriptors)


def _is_ipv4_literal(ip: object) -> bool:
    if not isinstance(ip, str):
        return False
    try:
        socket.inet_pton(socket.AF_INET, ip)
    except OSError:
        return False
    return True


def _listen_on(ip: str, port: int) -> int | None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # As libzmq does for the sockets it binds: a port in TIME_WAIT can be reused.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((ip, port))
        listener.listen(_BACKLOG)
    except OSError:
        listener.close()
        return None
    return listener.detach()
