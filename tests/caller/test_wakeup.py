"""`WakeupChannel`: signalled from any thread, readable until drained, never blocking."""

from __future__ import annotations

import os
import select
import threading

import pytest

from async_caller._wakeup import WakeupChannel, open_wakeup_channel

KINDS = [
    pytest.param(
        "eventfd",
        marks=pytest.mark.skipif(not hasattr(os, "eventfd"), reason="no eventfd on this OS"),
    ),
    pytest.param("pipe", marks=pytest.mark.skipif(os.name == "nt", reason="POSIX only")),
    "socket",
]


def readable(channel: WakeupChannel, timeout: float = 0.0) -> bool:
    ready, _, _ = select.select([channel], [], [], timeout)
    return bool(ready)


@pytest.mark.parametrize("kind", KINDS)
def test_signal_makes_readable_and_drain_clears(kind: str) -> None:
    """A signal makes the descriptor readable; one drain clears any number of signals."""
    channel = open_wakeup_channel(kind)
    try:
        assert not readable(channel)
        channel.drain()  # draining an empty channel is a no-op
        for _ in range(10):
            channel.signal()
        assert readable(channel)
        channel.drain()
        assert not readable(channel)
    finally:
        channel.close()


@pytest.mark.parametrize("kind", KINDS)
def test_signal_from_another_thread_wakes_a_waiter(kind: str) -> None:
    """A thread blocked waiting for the descriptor wakes when another thread signals."""
    channel = open_wakeup_channel(kind)
    try:
        thread = threading.Thread(target=channel.signal)
        thread.start()
        assert readable(channel, timeout=10)
        thread.join()
    finally:
        channel.close()


@pytest.mark.skipif(os.name == "nt", reason="POSIX only")
def test_signalling_a_full_pipe_does_not_block() -> None:
    """Signals past the pipe's capacity are dropped: the pending one is all that counts."""
    channel = open_wakeup_channel("pipe")
    try:
        for _ in range(70_000):  # more bytes than a default 64 KiB pipe holds
            channel.signal()
        assert readable(channel)
    finally:
        channel.close()


def test_default_kind_and_unknown_kind() -> None:
    """The default channel works; an unknown kind names the valid ones."""
    channel = open_wakeup_channel()
    try:
        channel.signal()
        assert readable(channel)
    finally:
        channel.close()
    with pytest.raises(ValueError, match="'eventfd', 'pipe' or 'socket'"):
        open_wakeup_channel("carrier-pigeon")
