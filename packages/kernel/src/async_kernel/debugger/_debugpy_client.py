"""A Debug Adapter Protocol client talking to debugpy's debugger (pydevd) over a TCP socket.

Runs in the control thread's event loop (asyncio or trio, through anyio). DAP messages are
JSON bodies framed by a ``Content-Length`` header. The client numbers its own requests, so the
frontend's sequence numbers never collide with the kernel's internal requests; each response
is matched to its request by ``request_seq``. Events go to a callback in arrival order, which
is also the order the adapter sent them in; responses pass through the same callback first, so
state kept from both (which threads are stopped) follows the adapter's order.
"""

from __future__ import annotations

import itertools
import json
import logging
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from anyio.abc import SocketStream

    from ._dap import DapMessage

__all__ = ["DebugpyClient", "DebugpyClosedError"]

log = logging.getLogger(__name__)

_HEADER_END = b"\r\n\r\n"
_MAX_HEADER = 1024


class DebugpyClosedError(ConnectionError):
    """The connection to debugpy ended before the response arrived."""


class _Waiter:
    """A response that some request is waiting for."""

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.message: DapMessage | None = None


class DebugpyClient:
    """One connection to debugpy (control thread)."""

    def __init__(
        self, stream: SocketStream, on_message: Callable[[DapMessage], None], *, name: str
    ) -> None:
        self._stream = stream
        self._on_message = on_message
        self._name = name
        self._next_seq = 1
        self._waiters: dict[int, _Waiter] = {}
        self._event_waiters: dict[str, list[_Waiter]] = {}
        self._closed = False
        self._send_lock = anyio.Lock()
        self._buffer = b""
        """Bytes read but not yet parsed (read by :meth:`handshake`, parsed by read_forever)."""

    @classmethod
    async def connect(
        cls, host: str, port: int, on_message: Callable[[DapMessage], None]
    ) -> DebugpyClient:
        """Open a connection to a DAP server; run :meth:`read_forever` next."""
        stream = await anyio.connect_tcp(host, port)
        return cls(stream, on_message, name=f"{host}:{port}")

    @property
    def closed(self) -> bool:
        """Whether the connection has ended."""
        return self._closed

    async def request(self, command: str, arguments: dict[str, Any] | None = None) -> DapMessage:
        """Send a request and wait for its response (a DAP message with ``success``).

        Callers bound the wait with a cancel scope (``anyio.fail_after``).

        Raises:
            DebugpyClosedError: If the connection ends first.
        """
        seq = await self.send_request(command, arguments)
        return await self.response(seq)

    async def send_request(self, command: str, arguments: dict[str, Any] | None = None) -> int:
        """Send a request without waiting; return its sequence number for :meth:`response`."""
        if self._closed:
            raise DebugpyClosedError(f"the debugpy connection {self._name} is closed")
        seq = self._next_seq
        self._next_seq += 1
        self._waiters[seq] = _Waiter()
        message: DapMessage = {"type": "request", "seq": seq, "command": command}
        if arguments is not None:
            message["arguments"] = arguments
        body = json.dumps(message).encode()
        async with self._send_lock:
            await self._stream.send(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        return seq

    async def response(self, seq: int) -> DapMessage:
        """Wait for the response to the request numbered ``seq``."""
        waiter = self._waiters[seq]
        try:
            await waiter.done.wait()
        finally:
            self._waiters.pop(seq, None)
        if waiter.message is None:
            raise DebugpyClosedError(f"the debugpy connection {self._name} closed")
        return waiter.message

    async def handshake(self, command: str, arguments: dict[str, Any] | None = None) -> DapMessage:
        """Send a request and read up to its response here, before :meth:`read_forever` runs.

        This tells whether the peer speaks DAP at all: a stray peer that closes, or sends
        something that is not DAP, raises instead of leaving a reader task behind. Messages
        that arrive before the response are handled as usual.

        Raises:
            DebugpyClosedError: If the peer closes or sends something that is not DAP.
        """
        seq = await self.send_request(command, arguments)
        waiter = self._waiters[seq]
        try:
            while not waiter.done.is_set():
                message, self._buffer = await self._read_message(self._buffer)
                self._deliver(message)
        except (anyio.EndOfStream, anyio.BrokenResourceError, OSError, ValueError) as exc:
            raise DebugpyClosedError(f"{self._name} does not speak DAP: {exc!r}") from exc
        finally:
            self._waiters.pop(seq, None)
        assert waiter.message is not None
        return waiter.message

    def expect_event(self, event: str) -> Callable[[], Awaitable[DapMessage]]:
        """Start listening for ``event``; return an awaitable function that waits for it.

        Call it before sending the request that causes the event, so it cannot be missed.
        """
        waiter = _Waiter()
        self._event_waiters.setdefault(event, []).append(waiter)

        async def wait() -> DapMessage:
            await waiter.done.wait()
            if waiter.message is None:
                raise DebugpyClosedError(f"the debugpy connection {self._name} closed")
            return waiter.message

        return wait

    async def read_forever(self) -> None:
        """Read messages until the connection ends; then wake every waiter."""
        try:
            while True:
                message, self._buffer = await self._read_message(self._buffer)
                self._deliver(message)
        except (
            anyio.EndOfStream,
            anyio.BrokenResourceError,
            anyio.ClosedResourceError,
            OSError,
            ValueError,  # a Content-Length that is not a number
        ):
            return
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the connection; pending requests fail with :class:`DebugpyClosedError`."""
        if self._closed:
            return
        self._closed = True
        for waiter in [*self._waiters.values(), *itertools.chain(*self._event_waiters.values())]:
            waiter.done.set()
        self._event_waiters.clear()
        with anyio.CancelScope(shield=True):
            await self._stream.aclose()

    async def _read_message(self, buffer: bytes) -> tuple[DapMessage, bytes]:
        while _HEADER_END not in buffer:
            if len(buffer) > _MAX_HEADER:
                raise anyio.BrokenResourceError("DAP header too long")
            buffer += await self._stream.receive()
        header, buffer = buffer.split(_HEADER_END, 1)
        length = None
        for line in header.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length is None:
            raise anyio.BrokenResourceError("DAP message without Content-Length")
        while len(buffer) < length:
            buffer += await self._stream.receive()
        body, buffer = buffer[:length], buffer[length:]
        try:
            message = json.loads(body)
        except ValueError:
            log.warning("debugpy sent a message that is not JSON: %r", body[:200])
            return {}, buffer
        return message, buffer

    def _deliver(self, message: DapMessage) -> None:
        kind = message.get("type")
        if kind in ("response", "event"):
            try:
                self._on_message(message)
            except Exception:
                log.exception("handling a debugpy message failed: %.200r", message)
        if kind == "response":
            waiter = self._waiters.get(message.get("request_seq", -1))
            if waiter is not None:
                waiter.message = message
                waiter.done.set()
        elif kind == "event":
            for waiter in self._event_waiters.pop(message.get("event", ""), []):
                waiter.message = message
                waiter.done.set()
