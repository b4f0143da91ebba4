"""Routes for clients inside the kernel's own process (``LocalClient``): no sockets.

A local client's requests carry an identity of its own in place of a ZeroMQ routing id; the
kernel hands replies to such an identity to the client's callback instead of the transport,
and copies every iopub message to the open local clients. Nothing changes for other clients,
and while no local client is open the kernel only checks one attribute per message.
"""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ._message import Channel

__all__ = ["LocalRoutes"]


_PREFIX = b"async-kernel-local:"


class LocalRoutes:
    """The local clients of one kernel, by identity; any thread."""

    def __init__(self) -> None:
        self._peers: dict[bytes, Callable[[Channel, Sequence[bytes | memoryview]], object]] = {}
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self.active: bool = False
        """Whether any local client is open (read on every message: a plain attribute)."""

    def add(self, deliver: Callable[[Channel, Sequence[bytes | memoryview]], object]) -> bytes:
        """Register a client's callback; return the identity its requests carry."""
        identity = _PREFIX + str(next(self._numbers)).encode()
        with self._lock:
            self._peers[identity] = deliver
            self.active = True
        return identity

    def remove(self, identity: bytes) -> None:
        """Forget a client: its late replies are dropped."""
        with self._lock:
            self._peers.pop(identity, None)
            self.active = bool(self._peers)

    def route(
        self, channel: Channel, idents: Sequence[bytes], frames: Sequence[bytes | memoryview]
    ) -> bool:
        """Deliver a reply addressed to a local client; return False if it is not for one."""
        if not idents or not idents[0].startswith(_PREFIX):
            return False
        deliver = self._peers.get(idents[0])
        if deliver is not None:
            deliver(channel, frames)
        return True

    def copy_iopub(self, channel: Channel, frames: Sequence[bytes | memoryview]) -> None:
        """Give an iopub message to every local client (each keeps those of its requests)."""
        with self._lock:
            peers = list(self._peers.values())
        for deliver in peers:
            deliver(channel, frames)
