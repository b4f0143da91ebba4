"""Making sure a signal's Python handler runs while the main thread blocks.

CPython runs a signal handler in the main thread at its next check between bytecodes. A
signal that arrives just before the main thread enters a blocking call (``time.sleep`` in a
cell, the event loop's ``select``) has already been taken by the OS, so that call is not
interrupted, and the handler waits until it returns: an interrupt or a SIGTERM can then be
lost for as long as the cell sleeps.

:class:`SignalWatcher` closes that gap. Python's C-level handler writes each signal number to
the wakeup file descriptor at once, whatever the main thread does; a watcher thread reads it.
Each handler calls :meth:`SignalWatcher.acknowledge` first thing. If no handler has run for a
signal after ``RESEND_AFTER`` seconds, the watcher sends it to the main thread again; the main
thread is in its blocking call by then, so the call is interrupted and the handler runs. A
wakeup descriptor installed before (trio's, which wakes its loop on signals) still gets every
byte: the watcher passes them on.

The kernel watches SIGTERM and its own interrupt signal, whose copies are harmless (see
``_interrupts``). SIGINT is not sent again: a copy could not be told from a second SIGINT, which
stops every running cell again. Its handler is reached with a *kick* instead: another signal,
whose own handler does nothing unasked. The kick interrupts the main thread's blocking call,
and CPython then runs every handler that is pending, the SIGINT one first.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

__all__ = ["SignalWatcher"]

log = logging.getLogger(__name__)

RESEND_AFTER = 0.05
"""Seconds to wait for a handler before sending its signal to the main thread again."""


class SignalWatcher:
    """Re-sends signals to the main thread until their handlers have run.

    Args:
        watched: the signals to watch; each handler must call :meth:`acknowledge`.
        should_resend: called (in the watcher thread) with a signal number whose handler has
            not run yet; False when the signal no longer matters (no cell left to interrupt).
        kicks: signals reached by sending another one (the value) instead of themselves; their
            handlers must call :meth:`acknowledge` too.
    """

    def __init__(
        self,
        watched: Iterable[int],
        should_resend: Callable[[int], bool],
        kicks: Mapping[int, int] | None = None,
    ) -> None:
        self._should_resend = should_resend
        self._kicks = {int(signum): int(kick) for signum, kick in (kicks or {}).items()}
        self._watched = {int(signum) for signum in watched} | self._kicks.keys()
        self._runs = dict.fromkeys(self._watched, 0)
        """How often each handler has run; written in the main thread only."""
        self._covered = dict.fromkeys(self._watched, 0)
        """Handler runs already matched with a received signal (watcher thread only)."""
        self._handler_ran = threading.Event()

    def acknowledge(self, signum: int) -> None:
        """Record that the handler for ``signum`` runs (its first line; main thread)."""
        if signum in self._runs:
            self._runs[signum] += 1
            self._handler_ran.set()

    def start(self) -> None:
        """Take over the wakeup descriptor and start the watcher (main thread, loop running).

        Call it after the event loop has installed its own wakeup descriptor, if it does.
        """
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        watcher = threading.Thread(
            target=self._watch, args=(read_fd, previous), name="async-kernel-signal-watch"
        )
        watcher.daemon = True
        watcher.start()

    def _watch(self, read_fd: int, forward_fd: int) -> None:
        while True:
            try:
                data = os.read(read_fd, 512)
            except OSError:
                return
            if not data:
                return
            if forward_fd != -1:
                with contextlib.suppress(OSError):
                    os.write(forward_fd, data)
            for signum in self._watched.intersection(data):
                self._make_sure_handled(signum)

    def _make_sure_handled(self, signum: int) -> None:
        """Wait for a run of the handler of ``signum`` not yet matched; re-send if none."""
        while self._runs[signum] <= self._covered[signum]:
            self._handler_ran.clear()
            if self._runs[signum] > self._covered[signum]:
                break
            if self._handler_ran.wait(RESEND_AFTER):
                continue
            if not self._should_resend(signum):
                return
            sent = self._kicks.get(signum, signum)
            log.debug("handler for signal %d has not run; sending signal %d", signum, sent)
            signal.pthread_kill(threading.main_thread().ident or 0, sent)
            return  # the signal sent comes back through the wakeup descriptor
        self._covered[signum] = self._runs[signum]
