"""The replay history: repeats are refused, the oldest signatures are forgotten first, and a
full history stays small."""

from __future__ import annotations

import hashlib
import hmac
import tracemalloc

import pytest

from async_kernel.messaging import _codec
from async_kernel.messaging._codec import REPLAY_HISTORY, ReplayHistory


def signature(number: int) -> bytes:
    """A distinct hex HMAC-SHA256 signature, as the codec verifies them."""
    return hmac.digest(b"key", str(number).encode(), hashlib.sha256).hex().encode()


def test_a_signature_is_accepted_once() -> None:
    history = ReplayHistory(4)
    assert history.remember(signature(1))
    assert not history.remember(signature(1))
    assert history.remember(signature(2))


def test_the_oldest_signatures_are_forgotten_first() -> None:
    """Past its capacity, the history drops signatures in the order they arrived."""
    history = ReplayHistory(3)
    for number in range(5):  # 0 and 1 are pushed out by 3 and 4
        assert history.remember(signature(number))
    assert len(history) == 3
    assert not history.remember(signature(4))
    assert not history.remember(signature(2))
    assert history.remember(signature(0))  # forgotten: accepted again, and it pushes out 2
    assert history.remember(signature(2))


def test_a_capacity_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="capacity of at least 1, got 0"):
        ReplayHistory(0)


def test_a_full_history_stays_small() -> None:
    """65,536 signatures take under 7 MiB; as hex strings in an ordered dict they took 11.6."""
    only_replay = [tracemalloc.Filter(inclusive=True, filename_pattern=_codec.__file__)]
    signatures = [signature(number) for number in range(2 * REPLAY_HISTORY)]
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot().filter_traces(only_replay)
        history = ReplayHistory(REPLAY_HISTORY)
        for each in signatures:
            assert history.remember(each)
        after = tracemalloc.take_snapshot().filter_traces(only_replay)
    finally:
        if not was_tracing:
            tracemalloc.stop()
    assert len(history) == REPLAY_HISTORY
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 7 * 2**20
