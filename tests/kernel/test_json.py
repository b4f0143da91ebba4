"""Encoding messages: the encoded bytes hold about their own size in memory, no more."""

from __future__ import annotations

import tracemalloc

import pytest

from async_kernel.messaging import _codec

HEADER = {
    "msg_id": "0f3c1d6e2b7a4c58a9e1d2f3b4c5d6e7_4242_17",
    "msg_type": "status",
    "username": "kernel",
    "session": "0f3c1d6e2b7a4c58a9e1d2f3b4c5d6e7",
    "date": "2026-11-26T10:00:00.000000+00:00",
    "version": "5.5",
}


def _held_bytes_per_message(value: object, count: int) -> tuple[float, int]:
    """Memory allocated in ``_json`` per encoded message still held, and the encoded length."""
    only_json = [tracemalloc.Filter(inclusive=True, filename_pattern=_codec.__file__)]
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot().filter_traces(only_json)
        held = [_codec.dumps(value) for _ in range(count)]
        after = tracemalloc.take_snapshot().filter_traces(only_json)
    finally:
        if not was_tracing:
            tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return grown / count, len(held[0])


@pytest.mark.parametrize(
    "value",
    [HEADER, {"data": {"text/plain": "x" * 100_000}}],
    ids=["header", "100-kB-output"],
)
def test_encoded_messages_are_right_sized(value: object) -> None:
    """A queued message costs its length plus the object's header, not the encoder's buffer.

    orjson's result keeps the buffer it grew (4 KiB for a 200-byte header): a burst of
    1,000 queued replies then held 10 MiB and raised the process's memory for good.
    """
    per_message, length = _held_bytes_per_message(value, 50)
    assert per_message <= length + 128


def test_encoding_round_trips() -> None:
    """What is encoded decodes to the same value, whichever JSON library does the work."""
    value = {**HEADER, "nested": {"list": [1, 2.5, None, True], "text": "é ✓ 100% %s %b"}}
    assert _codec.loads(_codec.dumps(value)) == value
