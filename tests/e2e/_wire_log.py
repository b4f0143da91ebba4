"""A log of the kernel messages a page sends and receives over its websockets, for failure reports.

JupyterLab talks to kernels through the server's websocket, in JSON text frames or in the binary
``v1.kernel.websocket.jupyter.org`` framing (a table of offsets, then channel, header, parent
header, metadata, content and buffers). One line per message: milliseconds since the page opened,
direction, channel, msg_type, the id of the request (a reply shows its parent's), and for the debugger its command, event and success, so an ordering
problem between Lab and the kernel can be read off a failed run.
"""

from __future__ import annotations

import json
import struct
import time
from typing import Any, NamedTuple

OFFSET = struct.Struct("<Q")
"""One entry of the v1 framing's offset table: a little-endian unsigned 64-bit integer."""


class Frame(NamedTuple):
    """The parts of one kernel message that the log shows."""

    channel: str
    header: dict[str, Any]
    parent_header: dict[str, Any]
    content: dict[str, Any]


def decode_frame(payload: str | bytes) -> Frame | None:
    """The channel, headers and content of one websocket frame, or None when it is not a message."""
    try:
        if isinstance(payload, str):
            message = json.loads(payload)
            return Frame(
                message.get("channel", "?"),
                message.get("header", {}),
                message.get("parent_header", {}),
                message.get("content", {}),
            )
        count = OFFSET.unpack_from(payload, 0)[0]
        offsets = [OFFSET.unpack_from(payload, 8 * index)[0] for index in range(1, count + 1)]
        offsets.append(len(payload))
        parts = [payload[offsets[i] : offsets[i + 1]] for i in range(min(len(offsets) - 1, 5))]
        return Frame(
            parts[0].decode(), json.loads(parts[1]), json.loads(parts[2]), json.loads(parts[4])
        )
    except (ValueError, KeyError, IndexError, struct.error, UnicodeDecodeError, AttributeError):
        return None


def describe(content: dict[str, Any]) -> str:
    """What a debug message is about; empty for the other message types."""
    details = [content[key] for key in ("command", "event") if isinstance(content.get(key), str)]
    if "success" in content:
        details.append(f"success={content['success']}")
        if not content["success"] and content.get("message"):
            details.append(repr(content["message"])[:200])
    if content.get("event") == "stopped":
        details.append(f"reason={content.get('body', {}).get('reason')}")
    return " ".join(details)


class WireLog:
    """Lines describing each kernel message of one page; attach with :meth:`watch`."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._started = time.monotonic()

    def watch(self, page: Any) -> None:
        """Record the messages of every websocket ``page`` opens from now on."""
        page.on("websocket", self._on_websocket)

    def _on_websocket(self, socket: Any) -> None:
        self._add("--", f"websocket {socket.url}")
        socket.on("framesent", lambda payload: self._on_frame("->", payload))
        socket.on("framereceived", lambda payload: self._on_frame("<-", payload))
        socket.on("close", lambda _socket: self._add("--", "websocket closed"))

    def _on_frame(self, direction: str, payload: str | bytes) -> None:
        decoded = decode_frame(payload)
        if decoded is None:
            self._add(direction, f"undecoded frame of {len(payload)} bytes")
            return
        msg_type = decoded.header.get("msg_type", "?")
        extra = describe(decoded.content) if msg_type.startswith("debug_") else ""
        if msg_type == "status":
            extra = decoded.content.get("execution_state", "")
        elif msg_type == "execute_request":
            extra = f"stop_on_error={decoded.content.get('stop_on_error')} date={decoded.header.get('date')}"
        elif msg_type == "execute_reply":
            extra = str(decoded.content.get("status", ""))
        # A request by its own id, anything the kernel sends by the id of the request it answers.
        about = decoded.header if direction == "->" else decoded.parent_header
        msg_id = str(about.get("msg_id", ""))[:8]
        self._add(direction, f"{decoded.channel} {msg_type} {msg_id} {extra}".rstrip())

    def _add(self, direction: str, text: str) -> None:
        elapsed_ms = (time.monotonic() - self._started) * 1000
        self.lines.append(f"{elapsed_ms:9.1f} {direction} {text}")
