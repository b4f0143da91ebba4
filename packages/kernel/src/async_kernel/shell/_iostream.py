"""``sys.stdout`` and ``sys.stderr`` replacements that publish ``stream`` messages on iopub.

Writes are buffered and sent in batches: by a timer in the IO thread shortly after the first
write, when the buffer grows large, when the request they belong to changes, and whenever the
kernel flushes (before display output and before a reply). Each batch carries the parent
header of the request that wrote it, so output from concurrent cells is never misattributed.
Any thread may write; nothing is dropped and a write never raises for lack of a request.
In a process forked by a cell, writes go to the process's own descriptor instead.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from typing import TYPE_CHECKING

from ..runtime._context import current_request

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..messaging._message import Message

__all__ = ["OutStream"]

FLUSH_DELAY = 0.02
"""Seconds between the first buffered write and its automatic flush."""

MAX_BUFFER = 1 << 16
"""Characters buffered before a write flushes at once."""


class OutStream(io.TextIOBase):
    """A text stream that publishes what is written to it as ``stream`` messages.

    Args:
        name: ``"stdout"`` or ``"stderr"``, the stream name in the messages.
        publish: called as ``publish(name, text, parent)`` to send one message (any thread).
        call_later: schedules a flush after a delay (any thread).
        fallback_parent: the request to attribute output to when the writer has none.
        fileno: the file descriptor to report from :meth:`fileno` (the process's own).
        unflushed: a set the stream adds its ``flush`` to when it buffers text, so the
            kernel flushes only streams that were written to (the kernel's ``Outbox``).
    """

    def __init__(
        self,
        name: str,
        publish: Callable[[str, str, Message | None], None],
        call_later: Callable[[float, Callable[[], object]], None],
        fallback_parent: Callable[[], Message | None],
        fileno: int | None = None,
        unflushed: set[Callable[[], object]] | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self._publish = publish
        self._call_later = call_later
        self._fallback_parent = fallback_parent
        self._fileno = fileno
        self._unflushed = unflushed if unflushed is not None else set()
        self._flush = self.flush
        self._lock = threading.RLock()
        self._buffer: list[str] = []
        self._size = 0
        self._parent: Message | None = None
        self._flush_scheduled = False
        self._forked_child = False
        os.register_at_fork(after_in_child=self._after_fork_in_child)

    @property
    def encoding(self) -> str:  # pyright: ignore[reportIncompatibleVariableOverride]
        """Always UTF-8: messages are JSON."""
        return "utf-8"

    def writable(self) -> bool:
        """Return True."""
        return True

    def isatty(self) -> bool:
        """Return False: frontends are not terminals."""
        return False

    def fileno(self) -> int:
        """Return the process's original descriptor; output written there bypasses Jupyter."""
        if self._fileno is None:
            raise io.UnsupportedOperation("fileno")
        return self._fileno

    def close(self) -> None:
        """Flush, and stay open.

        The kernel owns this stream, not the cell: a cell that closes ``sys.stdout`` would
        otherwise silence every later cell. Output written after ``close()`` still arrives.
        """
        self.flush()

    def _after_fork_in_child(self) -> None:
        # In a process forked by a cell: another thread may have held the lock at the fork,
        # and the buffer holds the parent's output. The child writes to the process's own
        # descriptor from now on, never to the kernel's sockets.
        self._lock = threading.RLock()
        self._buffer.clear()
        self._size = 0
        self._flush_scheduled = False
        self._forked_child = True

    def write(self, text: str) -> int:
        """Buffer ``text`` for the current request's output (any thread)."""
        if not isinstance(text, str):
            msg = f"write() argument must be str, not {type(text).__name__}"
            raise TypeError(msg)
        if not text:
            return 0
        if self._forked_child:
            if self._fileno is not None:
                with contextlib.suppress(OSError):
                    os.write(self._fileno, text.encode("utf-8", "replace"))
            return len(text)
        parent = current_request.get() or self._fallback_parent()
        with self._lock:
            if self._buffer and parent is not self._parent:
                self._flush_locked()
            self._parent = parent
            self._buffer.append(text)
            self._size += len(text)
            self._unflushed.add(self._flush)
            if self._size >= MAX_BUFFER:
                self._flush_locked()
            elif not self._flush_scheduled:
                self._flush_scheduled = True
                self._call_later(FLUSH_DELAY, self._flush_from_timer)
        return len(text)

    def flush(self) -> None:
        """Publish everything buffered now (any thread).

        Always takes the lock: a timer flush may have emptied the buffer and not yet
        published it, and what follows this flush (a reply, a display) must come after.
        """
        with self._lock:
            self._flush_locked()

    def _flush_from_timer(self) -> None:
        with self._lock:
            self._flush_scheduled = False
            self._flush_locked()

    def _flush_locked(self) -> None:
        if not self._buffer:
            return
        text = "".join(self._buffer)
        self._buffer.clear()
        self._size = 0
        self._publish(self.name, text, self._parent)
