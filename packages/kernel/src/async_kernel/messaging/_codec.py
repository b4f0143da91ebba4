"""Signing and (de)serialising messages in the Jupyter wire format.

Wire format (after the ROUTER identities)::

    <IDS|MSG>, signature, header, parent_header, metadata, content, *buffers

The signature is the hex HMAC of the four JSON frames. An empty key disables signing, as
jupyter_client does. Verification uses a constant-time compare, and a signature seen before is
a replayed message and rejected: the codec remembers the last ``REPLAY_HISTORY`` signatures it
accepted (a bounded history; jupyter_client makes every message unique through its msg_id and
date, so a legitimate client never repeats a signature).

JSON goes through orjson when it is installed, the standard library otherwise. Messages carry
user data (display outputs, comm payloads) that may hold values JSON lacks, such as datetimes
or numpy scalars; both paths fall back to ``str`` rather than failing the whole message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from array import array
from typing import TYPE_CHECKING, Any

from ._errors import InvalidMessageError
from ._message import Channel, Message

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "DELIMITER",
    "MessageCodec",
    "ReplayHistory",
    "check_header",
    "dumps",
    "loads",
    "unpack_own",
]

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
            parent_frame = dumps(parent_header) if parent_header else _EMPTY_OBJECT
        parts = [
            dumps(msg_type_header),
            parent_frame,
            dumps(metadata) if metadata else _EMPTY_OBJECT,
            dumps(content),
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


def unpack_own(
    frames: Sequence[bytes | memoryview],
) -> tuple[list[Any], list[bytes | memoryview]]:
    """Split frames this kernel's codec made into their four JSON parts, decoded, and buffers.

    For messages the kernel itself made (a transport handing them to its host): no signature
    check and no validation, which :meth:`MessageCodec.deserialize` does for what arrives.
    """
    split = next(index for index, frame in enumerate(frames) if bytes(frame) == DELIMITER)
    parts = [loads(frame) for frame in frames[split + 2 : split + 6]]
    return parts, list(frames[split + 6 :])


def _decode_object(name: str, part: bytes) -> dict[str, Any]:
    try:
        value = loads(part)
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


# --- JSON ----------------------------------------------------------------------------------


def _default(value: object) -> object:
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _std_dumps(obj: object) -> bytes:
    return json.dumps(
        obj, default=_default, ensure_ascii=False, allow_nan=True, separators=(",", ":")
    ).encode("utf-8", "surrogatepass")


def _std_loads(data: bytes | memoryview) -> Any:
    return json.loads(bytes(data))


dumps: Callable[[object], bytes] = _std_dumps
loads: Callable[[bytes | memoryview], Any] = _std_loads

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is optional
    pass
else:
    _ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY

    def _orjson_dumps(obj: object) -> bytes:
        try:
            encoded = orjson.dumps(obj, default=_default, option=_ORJSON_OPTIONS)
        except (TypeError, ValueError):
            # orjson rejects what json accepts in a few corners (big ints, NaN handling):
            # fall back rather than lose the message.
            return _std_dumps(obj)
        # orjson's result keeps the whole buffer it grew while encoding: 4 KiB for a
        # 200-byte header, about ten times the size for large ones. A right-sized copy keeps
        # queued messages small (1,000 waiting replies held 10 MiB); formatting is the
        # cheapest copy, ~50 ns for a header (bytes() and slices return the same object).
        return b"%b" % encoded

    def _orjson_loads(data: bytes | memoryview) -> Any:
        return orjson.loads(data)

    dumps = _orjson_dumps
    loads = _orjson_loads


# --- the replay history ----------------------------------------------------------------------

# The replay history: which signatures the kernel has accepted lately (IO thread only).
#
# A message whose signature was accepted before is a replay. The history keeps the last
# ``capacity`` signatures, 65,536 by default, and a busy session fills it (every comm message
# of a slider drag counts). Kept as 64-byte hex strings in an ordered dict it held 11.6 MiB when
# full. It keeps each signature's first 60 bits instead, as a small int in a set, and their order
# of arrival in a ring of machine words: 6.5 MiB when full.
#
# Sixty bits suffice: a signature is an HMAC, uniformly random to anyone without the key, so a
# genuine message is mistaken for a replay (and dropped) with a chance of ``capacity / 2**60``,
# about once in 1.8e13 messages with the default, while a true replay repeats its signature
# exactly.

_PREFIX_HEX_DIGITS = 15
"""60 bits: a Python int up to 2**60 takes 32 bytes, one of 2**64 takes 40."""


class ReplayHistory:
    """The last ``capacity`` accepted signatures, to reject a message sent twice."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            msg = f"the replay history needs a capacity of at least 1, got {capacity}"
            raise ValueError(msg)
        self._capacity = capacity
        self._seen: set[int] = set()
        self._order = array("Q", bytes(8 * capacity))
        """The keys in ``_seen`` in order of arrival: a ring whose oldest entry is next."""
        self._next = 0

    def __len__(self) -> int:
        return len(self._seen)

    def remember(self, signature: bytes) -> bool:
        """Record a verified hex ``signature``; return False if it was seen before (a replay)."""
        key = int(signature[:_PREFIX_HEX_DIGITS], 16)
        seen = self._seen
        if key in seen:
            return False
        slot = self._next
        if len(seen) == self._capacity:
            seen.discard(self._order[slot])
        self._order[slot] = key
        self._next = (slot + 1) % self._capacity
        seen.add(key)
        return True
