"""Signing and verifying wire messages: constant-time compare, replay and unsigned rejection."""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from async_kernel import InvalidMessageError
from async_kernel.messaging._codec import DELIMITER, MessageCodec
from async_kernel.messaging._message import Channel, utc_now_iso

if TYPE_CHECKING:
    from collections.abc import Callable

KEY = b"a-test-key-4a7c9d1e"


def frames(codec: MessageCodec, msg_id: str = "m1", signature: bytes | None = None) -> list[bytes]:
    """The frames of a kernel_info_request with ``msg_id``, signed by ``codec``."""
    parts = [
        json.dumps({"msg_id": msg_id, "msg_type": "kernel_info_request"}).encode(),
        b"{}",
        b"{}",
        b"{}",
    ]
    return [b"client", DELIMITER, codec.sign(parts) if signature is None else signature, *parts]


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verification goes through hmac.compare_digest, never ==, which leaks timing."""
    compared: list[tuple[bytes, bytes]] = []
    real: Callable[[bytes, bytes], bool] = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # the codec looks it up per call
    codec = MessageCodec(KEY)
    message_frames = frames(codec)
    codec.deserialize(Channel.shell, message_frames)
    assert compared == [(message_frames[2], message_frames[2])]


def test_a_replayed_message_is_rejected() -> None:
    codec = MessageCodec(KEY)
    message_frames = frames(codec)
    assert codec.deserialize(Channel.shell, message_frames).msg_id == "m1"
    with pytest.raises(InvalidMessageError, match="replayed message rejected"):
        codec.deserialize(Channel.shell, message_frames)


def test_replay_history_is_bounded() -> None:
    """Only the last ``replay_history`` signatures are kept: memory stays bounded."""
    codec = MessageCodec(KEY, replay_history=2)
    first, second, third = (frames(codec, f"m{n}") for n in range(3))
    for message_frames in (first, second, third):
        codec.deserialize(Channel.shell, message_frames)
    assert codec.deserialize(Channel.shell, first).msg_id == "m0"  # forgotten, so accepted
    with pytest.raises(InvalidMessageError, match="replayed"):
        codec.deserialize(Channel.shell, third)


def test_forged_signatures_do_not_enter_the_history() -> None:
    """A flood of badly signed messages cannot push real signatures out of the history."""
    codec = MessageCodec(KEY, replay_history=1)
    genuine = frames(codec)
    codec.deserialize(Channel.shell, genuine)
    for number in range(3):
        with pytest.raises(InvalidMessageError, match="invalid message signature"):
            codec.deserialize(Channel.shell, frames(codec, f"x{number}", b"0" * 64))
    with pytest.raises(InvalidMessageError, match="replayed"):
        codec.deserialize(Channel.shell, genuine)


def test_unsigned_message_is_rejected_when_a_key_is_set() -> None:
    codec = MessageCodec(KEY)
    with pytest.raises(InvalidMessageError, match="unsigned message rejected"):
        codec.deserialize(Channel.shell, frames(codec, signature=b""))


def test_without_a_key_messages_are_unsigned_and_not_checked() -> None:
    codec = MessageCodec(b"")
    assert codec.sign([b"{}"]) == b""
    message_frames = frames(codec, signature=b"anything")
    assert codec.deserialize(Channel.shell, message_frames).msg_id == "m1"


def test_error_messages_never_contain_the_key() -> None:
    codec = MessageCodec(KEY)
    bad_inputs = [
        [DELIMITER, KEY, b"{}"],
        frames(codec, signature=KEY),
        [DELIMITER, codec.sign([KEY, b"{}", b"{}", b"{}"]), KEY, b"{}", b"{}", b"{}"],
    ]
    for bad in bad_inputs:
        with pytest.raises(InvalidMessageError) as caught:
            codec.deserialize(Channel.shell, bad)
        assert KEY.decode() not in str(caught.value)
    with pytest.raises(InvalidMessageError) as caught:
        MessageCodec(KEY, "hmac-nope")
    assert KEY.decode() not in str(caught.value)


def test_a_bad_part_after_a_good_header_keeps_the_request_for_an_error_reply() -> None:
    codec = MessageCodec(KEY)
    parts = [json.dumps({"msg_id": "m9", "msg_type": "x_request"}).encode(), b"{}", b"{}", b"["]
    with pytest.raises(InvalidMessageError, match="content is not valid JSON") as caught:
        codec.deserialize(Channel.control, [b"id", DELIMITER, codec.sign(parts), *parts])
    request = caught.value.request
    assert request is not None
    assert (request.msg_id, request.channel, request.idents) == ("m9", Channel.control, [b"id"])


def test_signature_is_the_hex_hmac_of_the_four_json_frames() -> None:
    """The signature matches what jupyter_client computes: HMAC-SHA256 over the parts in order."""
    codec = MessageCodec(KEY)
    parts = [b'{"msg_id":"a"}', b"{}", b'{"x":1}', b'{"data":{}}']
    expected = hmac.new(KEY, b"".join(parts), "sha256").hexdigest().encode()
    assert codec.sign(parts) == expected
    assert codec.sign([memoryview(part) for part in parts]) == expected


def test_a_reply_carries_the_request_header_exactly_as_received() -> None:
    """The parent header frame of a reply is the request's header frame, byte for byte."""
    codec = MessageCodec(KEY)
    request = codec.deserialize(Channel.shell, frames(codec, msg_id="exact"))
    assert (
        request.header_frame
        == json.dumps({"msg_id": "exact", "msg_type": "kernel_info_request"}).encode()
    )
    reply = codec.serialize(
        {"msg_id": "r1", "msg_type": "kernel_info_reply"},
        request.header_frame,
        {"status": "ok"},
        idents=request.idents,
    )
    split = reply.index(DELIMITER)
    assert reply[split + 3] == request.header_frame
    assert reply[split + 4] == b"{}"  # no metadata
    assert reply[split + 1] == codec.sign(reply[split + 2 : split + 6])


def test_header_dates_are_iso_8601_utc_with_microseconds() -> None:
    """utc_now_iso gives the current time in the form datetime parses back, to the second."""
    before = datetime.now(UTC)
    text = utc_now_iso()
    parsed = datetime.fromisoformat(text)
    after = datetime.now(UTC)
    assert parsed.tzinfo is not None
    assert parsed.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= parsed <= after + timedelta(seconds=1)
    assert len(text.split(".")[1]) == len("123456+00:00")
