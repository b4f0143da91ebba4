"""Signing and (de)serialising messages in the Jupyter wire format.

Wire format (after the ROUTER identities)::

    <IDS|MSG>, signature, header, parent_header, metadata, content, *buffers

The signature is the hex HMAC of the four JSON frames. An empty key disables signing, as
jupyter_client does. Verification uses a constant-time compare, and a signature seen before is
a replayed message and rejected: the codec remembers the last ``REPLAY_HISTORY`` signatures it
accepted (a bounded history; jupyter_client makes every message unique through its msg_id and
date, so a legitimate client never repeats a signature).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

from . import _json
from ._errors import InvalidMessageError
from ._message import Channel, Message
from ._replay import ReplayHistory

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["DELIMITER", "MessageCodec", "check_header"]

DELIMITER = b"<IDS|MSG>"

_EMPTY_OBJECT = b"{}"

REPLAY_HISTORY = 1 << 16
"""How many accepted signatures are remembered to reject replays."""

_SCHEMES = {"hmac-sha256": hashlib.sha256, "hmac-sha512": hashlib.sha512, "hmac-md5": hashlib.md5}


class MessageCodec:
    """Turns messages into signed frames and verified frames back into messages.

    Signing is thread-safe: the HMAC template is copied for each message, never updated in
    place. Decoding keeps the replay history, so only one thread (the IO thread) may decode.
    """

    def __init__(
        self,
        key: bytes,
        signature_scheme: str = "hmac-sha256",
        replay_history: int = REPLAY_HISTORY,
    ) -> None:
        try:
            digest = _SCHEMES[signature_scheme]
        except KeyError:
            msg = (
                f"unsupported signature_scheme {signature_scheme!r}; "
                f"use one of {', '.join(sorted(_SCHEMES))}"
            )
            raise InvalidMessageError(msg) from None
        self._hmac = hmac.new(key, digestmod=digest) if key else None
        self._key = key
        self._digest = digest
        self._replay_history = ReplayHistory(replay_history)

    @property
    def signs(self) -> bool:
        """Whether messages are signed (a key was given)."""
        return self._hmac is not None

    def sign(self, frames: Sequence[bytes | memoryview]) -> bytes:
        """Return the signature of the four JSON frames, or b"" when unsigned."""
        if self._hmac is None:
            return b""
        # One C call over the joined frames: cheaper than copying a template HMAC and
        # feeding it four frames through the Python wrapper.
        return hmac.digest(self._key, b"".join(frames), self._digest).hex().encode("ascii")

    def serialize(
        self,
        msg_type_header: dict[str, Any],
        parent_header: dict[str, Any] | bytes | None,
        content: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        buffers: Sequence[bytes | memoryview] = (),
        idents: Sequence[bytes] = (),
    ) -> list[bytes | memoryview]:
        """Return the frames of a message, signed, ready to send.

        ``parent_header`` may be given already encoded (the request's `Message.header_frame`).
        """
        if isinstance(parent_header, bytes):
            parent_frame = parent_header or _EMPTY_OBJECT
        else:
            parent_frame = _json.dumps(parent_header) if parent_header else _EMPTY_OBJECT
        parts = [
            _json.dumps(msg_type_header),
            parent_frame,
            _json.dumps(metadata) if metadata else _EMPTY_OBJECT,
            _json.dumps(content),
        ]
        return [*idents, DELIMITER, self.sign(parts), *parts, *buffers]

    def deserialize(self, channel: Channel, frames: Sequence[bytes | memoryview]) -> Message:
        """Verify and decode received frames.

        Raises:
            InvalidMessageError: the frames are malformed, unsigned, badly signed or replayed,
                or a JSON part does not decode to an object. The message says which, without
                the key. When only the parts after the header are bad, its ``request`` holds
                the message (with empty content) so the sender can get an error reply.
        """
        frames = [bytes(frame) for frame in frames]
        try:
            split = frames.index(DELIMITER)
        except ValueError:
            raise InvalidMessageError("no <IDS|MSG> delimiter in the message frames") from None
        idents = frames[:split]
        rest = frames[split + 1 :]
        if len(rest) < 5:
            msg = f"a message needs 5 frames after the delimiter, got {len(rest)}"
            raise InvalidMessageError(msg)
        signature, *parts = rest[:5]
        if self._hmac is not None:
            if not signature:
                raise InvalidMessageError("unsigned message rejected: this kernel requires signing")
            if not hmac.compare_digest(signature, self.sign(parts)):
                raise InvalidMessageError("invalid message signature")
            self._remember(signature)
        header = _decode_object("header", parts[0])
        check_header(header)
        message = Message(channel=channel, header=header, idents=idents, header_frame=parts[0])
        try:
            message.parent_header = _decode_object("parent_header", parts[1])
            message.metadata = _decode_object("metadata", parts[2])
            message.content = _decode_object("content", parts[3])
        except InvalidMessageError as exc:
            raise InvalidMessageError(str(exc), message) from exc.__cause__
        message.buffers = list(rest[5:])
        return message

    def _remember(self, signature: bytes) -> None:
        """Record an accepted signature; reject it if it was seen before (a replay)."""
        if not self._replay_history.remember(signature):
            raise InvalidMessageError("replayed message rejected: its signature was seen before")


def _decode_object(name: str, part: bytes) -> dict[str, Any]:
    try:
        value = _json.loads(part)
    except ValueError as exc:
        raise InvalidMessageError(f"{name} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        msg = f"{name} must be a JSON object, got {type(value).__name__}"
        raise InvalidMessageError(msg)
    return value


def check_header(header: dict[str, Any]) -> None:
    """Check the header fields the kernel relies on to route and answer a message."""
    msg_type = header.get("msg_type")
    if not isinstance(msg_type, str) or not msg_type:
        raise InvalidMessageError("header.msg_type is missing or not a non-empty string")
    msg_id = header.get("msg_id")
    if not isinstance(msg_id, str) or not msg_id:
        raise InvalidMessageError("header.msg_id is missing or not a non-empty string")
    subshell_id = header.get("subshell_id")
    if subshell_id is not None and not isinstance(subshell_id, str):
        raise InvalidMessageError("header.subshell_id must be a string or null")
