"""Ending the kernel when the client process that started it is gone.

jupyter_client names itself in ``JPY_PARENT_PID`` when it launches a kernel. If that process
dies without shutting the kernel down (killed, crashed, a test run stopped), nothing would
ever end the kernel: it would keep its ports, its memory and whatever its cells run. So the
kernel watches that process and shuts itself down, as a SIGTERM does, once it has gone.

Only a process that is an ancestor of the kernel is watched: a variable inherited from
elsewhere (a terminal opened from Jupyter, a remote launcher that copied the environment)
names a process the kernel does not belong to, maybe on another machine.

The watch costs nothing while the parent lives: on Linux a thread sleeps on a pidfd, which
becomes readable when the process exits; elsewhere it checks once a second.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["PARENT_ENV", "ancestors", "watch_parent", "watched_parent"]

log = logging.getLogger(__name__)

PARENT_ENV = "JPY_PARENT_PID"
_POLL_SECONDS = 1.0


def ancestors() -> list[int]:
    """The process ids above this process, nearest first.

    Read from ``/proc``; only the direct parent where there is no ``/proc``.
    """
    found = [os.getppid()]
    while found[-1] > 1 and len(found) < 64:
        parent = _parent_of(found[-1])
        if parent is None or parent in found:
            break
        found.append(parent)
    return found


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or ")".
    fields = data[data.rfind(b")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else None


def watched_parent(environ: Mapping[str, str] = os.environ) -> int | None:
    """The process to watch: ``JPY_PARENT_PID`` if it names an ancestor of this process."""
    value = environ.get(PARENT_ENV, "").strip()
    if not value.isdigit() or int(value) <= 1 or os.name == "nt":
        return None  # on Windows the variable holds a handle, not a process id
    pid = int(value)
    if pid not in ancestors():
        log.debug("%s=%d is not an ancestor of this kernel: not watched", PARENT_ENV, pid)
        return None
    return pid


def watch_parent(pid: int, on_gone: Callable[[], object]) -> threading.Thread:
    """Call ``on_gone`` (in a daemon thread) once process ``pid`` has exited."""
    thread = threading.Thread(
        target=_wait_then_call, args=(pid, on_gone), name="async-kernel-parent-watch", daemon=True
    )
    thread.start()
    return thread


def _wait_then_call(pid: int, on_gone: Callable[[], object]) -> None:
    _wait_for_exit(pid)
    log.warning("the process that started this kernel (%d) has gone: shutting down", pid)
    on_gone()


def _wait_for_exit(pid: int) -> None:
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is not None:
        try:
            fd = pidfd_open(pid)
        except ProcessLookupError:
            return
        except OSError:
            pass  # no pidfd here (an old kernel, a sandbox): poll instead
        else:
            try:
                poller = select.poll()
                poller.register(fd, select.POLLIN)
                poller.poll()
            finally:
                os.close(fd)
            return
    while _alive(pid):
        time.sleep(_POLL_SECONDS)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat", "rb") as stat:
        data = stat.read()
        return data[data.rfind(b")") + 2 : data.rfind(b")") + 3] != b"Z"
    return True
