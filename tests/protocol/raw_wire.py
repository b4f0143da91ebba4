"""A bare ZeroMQ client for sending hand-made (and malformed) frames to a running kernel.

jupyter_client only sends well-formed messages; these tests need to send frames it never
would: bad signatures, broken JSON, missing fields, replays. ``RawClient`` connects one DEALER
socket per channel with the kernel's key, builds and signs frames itself, and decodes the
kernel's replies with jupyter_client's ``Session`` (which checks the kernel's signatures).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import TYPE_CHECKING, Any

import zmq
from jupyter_client.session import Session

from tests.kernel_fixtures import TIMEOUT

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.kernel_fixtures import KernelHarness

DELIMITER = b"<IDS|MSG>"
CHANNELS = ("shell", "control", "stdin")


def header(msg_type: str, **fields: Any) -> dict[str, Any]:
    """A complete request header; ``fields`` override or add entries."""
    value: dict[str, Any] = {
        "msg_id": uuid.uuid4().hex,
        "msg_type": msg_type,
        "username": "raw",
        "session": "raw-session",
        "date": "2026-01-01T00:00:00.000000Z",
        "version": "5.4",
    }
    value.update(fields)
    return value


class RawClient:
    """DEALER sockets on shell, control and stdin of one kernel, signing with its key.

    ``info`` is the kernel's connection information, as in its connection file.
    """

    def __init__(self, info: dict[str, Any]) -> None:
        key = info["key"]
        self.key: bytes = key if isinstance(key, bytes) else key.encode()
        self.session = Session(key=self.key, signature_scheme=info["signature_scheme"])
        self._context = zmq.Context()
        self.sockets: dict[str, zmq.Socket[bytes]] = {}
        for channel in CHANNELS:
            socket = self._context.socket(zmq.DEALER)
            socket.linger = 0
            socket.connect(f"{info['transport']}://{info['ip']}:{info[f'{channel}_port']}")
            self.sockets[channel] = socket

    @classmethod
    def for_kernel(cls, kernel: KernelHarness) -> RawClient:
        """A client for a kernel started by the test harness."""
        return cls(dict(kernel.manager.get_connection_info()))

    def close(self) -> None:
        """Close the sockets and their context."""
        self._context.destroy(linger=0)

    def sign(self, parts: list[bytes]) -> bytes:
        """The hex HMAC-SHA256 of ``parts``, as the kernel expects."""
        mac = hmac.new(self.key, digestmod=hashlib.sha256)
        for part in parts:
            mac.update(part)
        return mac.hexdigest().encode()

    def frames(
        self,
        msg_header: dict[str, Any],
        content: Any = None,
        *,
        raw_parts: dict[str, bytes] | None = None,
        signature: bytes | None = None,
    ) -> list[bytes]:
        """Frames for one message; ``raw_parts`` replaces JSON parts by name with raw bytes.

        The signature covers the parts as sent, so a broken part still passes the signature
        check, unless ``signature`` is given.
        """
        parts = {
            "header": json.dumps(msg_header).encode(),
            "parent_header": b"{}",
            "metadata": b"{}",
            "content": json.dumps({} if content is None else content).encode(),
        }
        parts.update(raw_parts or {})
        body = [parts["header"], parts["parent_header"], parts["metadata"], parts["content"]]
        return [DELIMITER, self.sign(body) if signature is None else signature, *body]

    def send_frames(self, channel: str, frames: list[bytes]) -> None:
        """Send frames as they are."""
        self.sockets[channel].send_multipart(frames)

    def request(self, channel: str, msg_type: str, content: Any = None, **fields: Any) -> str:
        """Send a well-formed, signed request; return its msg_id."""
        msg_header = header(msg_type, **fields)
        self.send_frames(channel, self.frames(msg_header, content))
        return msg_header["msg_id"]

    def receive(self, channel: str) -> dict[str, Any]:
        """The next message on ``channel``, verified and decoded (fails after TIMEOUT)."""
        socket = self.sockets[channel]
        if not socket.poll(TIMEOUT * 1000):
            msg = f"no message on {channel} within {TIMEOUT} s"
            raise AssertionError(msg)
        frames = socket.recv_multipart()
        _, message = self.session.feed_identities(frames)
        return self.session.deserialize(message)

    def replies(self, channel: str, count: int) -> Iterator[dict[str, Any]]:
        """The next ``count`` messages on ``channel``."""
        for _ in range(count):
            yield self.receive(channel)
