"""The replay history: which signatures the kernel has accepted lately (IO thread only).

A message whose signature was accepted before is a replay. The history keeps the last
``capacity`` signatures, 65,536 by default, and a busy session fills it (every comm message
of a slider drag counts). Kept as 64-byte hex strings in an ordered dict it held 11.6 MiB when
full. It keeps each signature's first 60 bits instead, as a small int in a set, and their order
of arrival in a ring of machine words: 6.5 MiB when full.

Sixty bits suffice: a signature is an HMAC, uniformly random to anyone without the key, so a
genuine message is mistaken for a replay (and dropped) with a chance of ``capacity / 2**60``,
about once in 1.8e13 messages with the default, while a true replay repeats its signature
exactly.
"""

from __future__ import annotations

from array import array

__all__ = ["ReplayHistory"]

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
