"""Signing and (de)serialising messages in the Jupyter wire format.

Wire format (after the ROUTER identities)::

    <IDS|MSG>, signature, header, parent_header, metadata, content, *buffers

The signature is the hex HMAC of the four JSON frames. An empty key disables signing, as
jupyter_client does. Verification uses a constant-time compare.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

from . import _json
from ._exceptions import InvalidMessageError
from ._message import Channel, Message

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["DELIMITER", "MessageCodec"]

DELIMITER = b"<IDS|MSG>"

_SCHEMES = {"hmac-sha256": hashlib.sha256, "hmac-sha512": hashlib.sha512, "hmac-md5": hashlib.md5}


class MessageCodec:
    """Turns messages into signed frames and verified frames back into messages.

    Thread-safe: the HMAC template is copied for each message, never updated in place.
    """

    def __init__(self, key: bytes, signature_scheme: str = "hmac-sha256") -> None:
        try:
            digest = _SCHEMES[signature_scheme]
        except KeyError:
            msg = (
                f"unsupported signature_scheme {signature_scheme!r}; "
                f"use one of {', '.join(sorted(_SCHEMES))}"
            )
            raise InvalidMessageError(msg) from None
        self._hmac = hmac.new(key, digestmod=digest) if key else None

    @property
    def signs(self) -> bool:
        """Whether messages are signed (a key was given)."""
        return self._hmac is not None

    def sign(self, frames: Sequence[bytes | memoryview]) -> bytes:
        """Return the signature of the four JSON frames, or b"" when unsigned."""
        if self._hmac is None:
            return b""
        mac = self._hmac.copy()
        for frame in frames:
            mac.update(frame)
        return mac.hexdigest().encode("ascii")

    def serialize(
        self,
        msg_type_header: dict[str, Any],
        parent_header: dict[str, Any] | None,
        content: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        buffers: Sequence[bytes | memoryview] = (),
        idents: Sequence[bytes] = (),
    ) -> list[bytes | memoryview]:
        """Return the frames of a message, signed, ready to send."""
        parts = [
            _json.dumps(msg_type_header),
            _json.dumps(parent_header or {}),
            _json.dumps(metadata or {}),
            _json.dumps(content),
        ]
        return [*idents, DELIMITER, self.sign(parts), *parts, *buffers]

    def deserialize(self, channel: Channel, frames: Sequence[bytes | memoryview]) -> Message:
        """Verify and decode received frames.

        Raises:
            InvalidMessageError: the frames are malformed, unsigned or badly signed, or a JSON
                part does not decode to an object. The message says which, without the key.
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
        decoded: list[dict[str, Any]] = []
        for name, part in zip(
            ("header", "parent_header", "metadata", "content"), parts, strict=True
        ):
            try:
                value = _json.loads(part)
            except ValueError as exc:
                raise InvalidMessageError(f"{name} is not valid JSON: {exc}") from exc
            if not isinstance(value, dict):
                msg = f"{name} must be a JSON object, got {type(value).__name__}"
                raise InvalidMessageError(msg)
            decoded.append(value)
        header, parent_header, metadata, content = decoded
        msg_type = header.get("msg_type")
        if not isinstance(msg_type, str) or not msg_type:
            raise InvalidMessageError("header.msg_type is missing or not a string")
        if not isinstance(header.get("msg_id", ""), str):
            raise InvalidMessageError("header.msg_id must be a string")
        subshell_id = header.get("subshell_id")
        if subshell_id is not None and not isinstance(subshell_id, str):
            raise InvalidMessageError("header.subshell_id must be a string or null")
        return Message(
            channel=channel,
            header=header,
            parent_header=parent_header,
            metadata=metadata,
            content=content,
            buffers=list(rest[5:]),
            idents=idents,
        )
