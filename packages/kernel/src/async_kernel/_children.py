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
    children = _direct_children()
    if not children and not leads_group:
        return
    if leads_group:
        previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            os.killpg(os.getpgrp(), signal.SIGTERM)
        finally:
            signal.signal(signal.SIGTERM, previous)
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    running = _reap(children)
    while running and time.monotonic() < deadline:
        time.sleep(_POLL_INTERVAL)
        running = _reap(running)
    for pid in running:
        log.warning("child process %d ignored SIGTERM; killing it", pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
