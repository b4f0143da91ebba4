"""A small, single-threaded Jupyter wire client for benchmarks.

jupyter_client's blocking client decodes every message in a background thread and parses
dates, which costs more per message than some of the kernels we measure. This client speaks
the wire format directly on plain ZeroMQ sockets (signing what it sends, not verifying what
it receives) so the client's own cost stays small and identical for every kernel. Every
received message is stamped with ``time.perf_counter()`` when it was read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import zmq

if TYPE_CHECKING:
    from collections.abc import Mapping

try:
    import orjson

    def _dumps(obj: object) -> bytes:
        return orjson.dumps(obj)

    def _loads(data: bytes) -> Any:
        return orjson.loads(data)

except ImportError:  # pragma: no cover - orjson is in the dev group

    def _dumps(obj: object) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

    def _loads(data: bytes) -> Any:
        return json.loads(data)


DELIMITER = b"<IDS|MSG>"
CHANNELS = ("shell", "control", "iopub")


@dataclass(slots=True)
class Received:
    """One decoded message and the moment it was read."""

    channel: str
    time: float
    header: dict[str, Any]
    parent_header: dict[str, Any]
    content: dict[str, Any]

    @property
    def msg_type(self) -> str:
        return self.header.get("msg_type", "")

    @property
    def parent_id(self) -> str | None:
        return self.parent_header.get("msg_id")


def _bytes(value: str | bytes) -> bytes:
    return value.encode("ascii") if isinstance(value, str) else value


class WireClient:
    """Shell, control and iopub sockets connected to one kernel."""

    def __init__(self, connection: Mapping[str, Any]) -> None:
        key = connection.get("key", b"")
        self._key = key.encode() if isinstance(key, str) else bytes(key)
        scheme = str(connection.get("signature_scheme", "hmac-sha256")).split("-", 1)[1]
        self._digest = getattr(hashlib, scheme)
        self._session = uuid.uuid4().hex
        self._counter = 0
        self._context = zmq.Context()
        transport, ip = connection.get("transport", "tcp"), connection["ip"]

        def url(port: int) -> str:
            return (
                f"{transport}://{ip}:{port}" if transport == "tcp" else f"{transport}://{ip}-{port}"
            )

        public, secret = connection.get("curve_publickey"), connection.get("curve_secretkey")
        if public and secret:  # a kernel with transport encryption: the client is a Curve peer
            self._context.curve_publickey = _bytes(public)
            self._context.curve_secretkey = _bytes(secret)
            self._context.curve_serverkey = _bytes(public)
        self.sockets: dict[str, zmq.Socket[bytes]] = {}
        for name in ("shell", "control"):
            socket = self._context.socket(zmq.DEALER)
            socket.linger = 0
            socket.sndhwm = 0
            socket.rcvhwm = 0
            socket.connect(url(connection[f"{name}_port"]))
            self.sockets[name] = socket
        iopub = self._context.socket(zmq.SUB)
        iopub.linger = 0
        iopub.rcvhwm = 0  # a SUB socket drops past its high-water mark: we check completeness
        iopub.setsockopt(zmq.SUBSCRIBE, b"")
        iopub.connect(url(connection["iopub_port"]))
        self.sockets["iopub"] = iopub
        self._poller = zmq.Poller()
        self._by_socket: dict[Any, str] = {}
        for name, socket in self.sockets.items():
            self._poller.register(socket, zmq.POLLIN)
            self._by_socket[socket] = name
        self._pending: dict[str, deque[Received]] = {name: deque() for name in CHANNELS}

    def close(self) -> None:
        for socket in self.sockets.values():
            socket.close(linger=0)
        self._context.term()

    # --- sending --------------------------------------------------------------------------

    def send(
        self,
        channel: str,
        msg_type: str,
        content: dict[str, Any],
        *,
        subshell_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Send a request on ``shell`` or ``control``; return its msg_id."""
        self._counter += 1
        msg_id = f"{self._session}-{self._counter}"
        header: dict[str, Any] = {
            "msg_id": msg_id,
            "msg_type": msg_type,
            "username": "bench",
            "session": self._session,
            "date": datetime.now(UTC).isoformat(),
            "version": "5.4",
        }
        if subshell_id is not None:
            header["subshell_id"] = subshell_id
        parts = [_dumps(header), b"{}", _dumps(metadata or {}), _dumps(content)]
        signature = b""
        if self._key:
            mac = hmac.new(self._key, digestmod=self._digest)
            for part in parts:
                mac.update(part)
            signature = mac.hexdigest().encode()
        self.sockets[channel].send_multipart([DELIMITER, signature, *parts])
        return msg_id

    def execute(self, code: str, **kwargs: Any) -> str:
        content = {
            "code": code,
            "silent": False,
            "store_history": kwargs.pop("store_history", True),
            "user_expressions": kwargs.pop("user_expressions", {}),
            "allow_stdin": False,
            "stop_on_error": kwargs.pop("stop_on_error", False),
        }
        return self.send("shell", "execute_request", content, **kwargs)

    # --- receiving ------------------------------------------------------------------------

    def poll(self, timeout: float) -> bool:
        """Read everything ready within ``timeout`` seconds into the queues; return if any."""
        events = self._poller.poll(max(0, int(timeout * 1000)))
        for socket, _ in events:
            name = self._by_socket[socket]
            queue = self._pending[name]
            while True:
                try:
                    queue.append(self._read_nowait(name))
                except zmq.Again:
                    break
        return bool(events)

    def _read_nowait(self, channel: str) -> Received:
        frames = self.sockets[channel].recv_multipart(zmq.NOBLOCK)
        now = time.perf_counter()
        split = frames.index(DELIMITER)
        header, parent, _metadata, content = frames[split + 2 : split + 6]
        return Received(channel, now, _loads(header), _loads(parent), _loads(content))

    def next(self, channel: str, deadline: float) -> Received | None:
        """The next message on ``channel``, or None at ``deadline`` (a perf_counter time)."""
        queue = self._pending[channel]
        while not queue:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return None
            self.poll(remaining)
        return queue.popleft()

    def reply(self, channel: str, msg_id: str, timeout: float) -> Received | None:
        """Wait for the reply to ``msg_id``; other replies on the channel are kept for later."""
        deadline = time.perf_counter() + timeout
        queue = self._pending[channel]
        for index, message in enumerate(queue):
            if message.parent_id == msg_id:
                del queue[index]
                return message
        seen = len(queue)
        while True:
            while len(queue) > seen:
                message = queue[seen]
                if message.parent_id == msg_id:
                    del queue[seen]
                    return message
                seen += 1
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return None
            self.poll(remaining)

    def take_replies(self, channel: str) -> list[Received]:
        """Remove and return every reply already read on ``channel``."""
        queue = self._pending[channel]
        messages = list(queue)
        queue.clear()
        return messages

    def iopub_until_idle(self, msg_id: str, timeout: float) -> list[Received] | None:
        """The iopub messages of ``msg_id`` up to its ``status: idle``; None on timeout.

        Messages of other requests that arrive first are dropped.
        """
        deadline = time.perf_counter() + timeout
        collected: list[Received] = []
        while True:
            message = self.next("iopub", deadline)
            if message is None:
                return None
            if message.parent_id != msg_id:
                continue
            collected.append(message)
            if message.msg_type == "status" and message.content.get("execution_state") == "idle":
                return collected

    def until_all_idle(self, msg_ids: list[str], timeout: float) -> bool:
        """Wait for the ``status: idle`` of every request in ``msg_ids``, in any order."""
        deadline = time.perf_counter() + timeout
        waiting = set(msg_ids)
        while waiting:
            message = self.next("iopub", deadline)
            if message is None:
                return False
            if message.msg_type == "status" and message.content.get("execution_state") == "idle":
                waiting.discard(message.parent_id or "")
        return True

    def drain(self, quiet: float = 0.05) -> None:
        """Drop everything that arrives until the sockets stay quiet for ``quiet`` seconds."""
        while self.poll(quiet):
            pass
        for queue in self._pending.values():
            queue.clear()
