"""Ending the processes a kernel's cells started, when the kernel exits.

A cell may start processes and forget them (``subprocess.Popen``, ``!cmd &``,
multiprocessing). Left alone they outlive the kernel, holding memory, ports and files, and a
restart leaves them behind. On exit the kernel asks its children to stop with SIGTERM, waits a
little, and kills the ones still there.

Children are found two ways. When the kernel leads its own process group (jupyter_client
starts kernels in a new session, so it does), the whole group is signalled: that reaches
grandchildren too, such as the command a ``!cmd`` shell started. Direct children are also
listed from ``/proc`` where it exists, so they are reaped and, if they ignore SIGTERM, killed.
A kernel started from a terminal does not lead its group and never signals it: the group is
the terminal's job.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from pathlib import Path

__all__ = ["end_child_processes"]

log = logging.getLogger(__name__)

_POLL_INTERVAL = 0.01


def _direct_children() -> set[int]:
    """The ids of this process's children, from /proc (empty where there is none)."""
    me = os.getpid()
    children: set[int] = set()
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{me}/task").iterdir():
            with contextlib.suppress(OSError):
                children.update(int(pid) for pid in (task / "children").read_text().split())
    return children


def _reap(pids: set[int]) -> set[int]:
    """Reap the children in ``pids`` that have exited; return those still running."""
    running: set[int] = set()
    for pid in pids:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue  # not ours to wait for, or already reaped
        if done == 0:
            running.add(pid)
    return running


def end_child_processes(grace: float = 1.0) -> None:
    """Stop every process this kernel started, waiting up to ``grace`` seconds (main thread).

    Call it when the kernel exits, after its own threads have stopped.
    """
    leads_group = os.getpgrp() == os.getpid()
    children = {pid: _Child(pid) for pid in _direct_children()}
    if not children and not leads_group:
        return
    try:
        if leads_group:
            previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
            try:
                os.killpg(os.getpgrp(), signal.SIGTERM)
            finally:
                signal.signal(signal.SIGTERM, previous)
        for child in children.values():
            child.send(signal.SIGTERM)
        deadline = time.monotonic() + grace
        running = _reap(set(children))
        while running and time.monotonic() < deadline:
            time.sleep(_POLL_INTERVAL)
            running = _reap(running)
        for pid in running:
            log.warning("child process %d ignored SIGTERM; killing it", pid)
            children[pid].send(signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
    finally:
        for child in children.values():
            child.close()


class _Child:
    """A child process to signal, never another process that reuses its id.

    Another thread (a cell's ``subprocess``, debugpy's own) may reap a child at any time; its
    id is then free, and on a busy machine soon given to a new process, which a plain
    ``os.kill`` would hit. Where Linux has pidfds the child is signalled through one, opened
    while it is listed: a reaped child then makes the signal fail instead.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._fd: int | None = None
        if hasattr(os, "pidfd_open"):
            try:
                self._fd = os.pidfd_open(pid)
            except OSError:
                self._fd = -1  # gone already: nothing to signal

    def send(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, OSError):
            if self._fd is None:
                os.kill(self.pid, signum)
            elif self._fd >= 0:
                signal.pidfd_send_signal(self._fd, signum)

    def close(self) -> None:
        if self._fd is not None and self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
