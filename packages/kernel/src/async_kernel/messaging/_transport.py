"""What the kernel core needs from the thing that carries its messages.

The kernel serialises every message to the Jupyter wire frames (``_codec``) and hands them to
its transport; the transport hands received frames back through the ``on_frames`` callback it
was made with. ``_zmq_transport`` (sockets and an IO thread) is one implementation,
``_callable`` (function calls and callbacks, no sockets, no threads) is the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeAlias

from ._message import Channel

__all__ = ["FramesHandler", "Transport", "TransportFactory"]

FramesHandler: TypeAlias = Callable[[Channel, list[bytes]], None]
"""Receives the frames of one message that arrived on a channel (shell, control or stdin)."""


class Transport(Protocol):
    """Carries frames between the kernel and its frontend.

    ``send``, ``call_soon`` and ``call_later`` may be called from any thread the kernel runs
    code in; the transport decides where the callbacks and the ``on_frames`` handler run
    (the ZeroMQ transport: its IO thread; the callable one: the kernel's event loop).
    """

    def start(self) -> None:
        """Begin carrying messages (the kernel's main thread, inside its event loop)."""
        ...

    def stop(self) -> None:
        """Deliver what is queued, then stop carrying messages."""
        ...

    def send(
        self, channel: Channel, frames: Sequence[bytes | memoryview], *, urgent: bool = False
    ) -> None:
        """Send one message's frames on ``channel`` (shell, control, stdin or iopub).

        A transport may hold messages back briefly to send them together; an ``urgent`` one
        (a request's idle status, an input request) leaves at once.
        """
        ...

    def call_soon(self, func: Callable[[], object]) -> None:
        """Run ``func`` soon where the transport runs its own work."""
        ...

    def call_later(self, delay: float, func: Callable[[], object]) -> None:
        """Run ``func`` after ``delay`` seconds where the transport runs its own work."""
        ...

    async def read_waiting(self, channel: Channel) -> None:
        """Return once every message already waiting on ``channel`` went to ``on_frames``."""
        ...


TransportFactory: TypeAlias = Callable[[FramesHandler], "Transport"]
"""Makes a transport that hands received frames to the given handler."""
