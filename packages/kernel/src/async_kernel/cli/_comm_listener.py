"""The communication port of a remotely launched kernel: signals and shutdown from the provisioner.

A provisioner cannot signal a process in another pod or on another host, so the launcher serves
a TCP port on which the provisioner sends one small JSON request per connection, then closes
it: ``{"signum": N}`` asks for signal N to be sent to the kernel (0 only checks that the kernel
is alive: a refused connection tells the provisioner it is gone), ``{"shutdown": 1}`` tells the
listener to stop.

The listener runs in a process of its own, forked by the launcher before the kernel starts (no
threads exist yet): it answers while a cell holds the GIL, which is when a provisioner most
needs to interrupt or kill the kernel. It stops when asked to, and when the kernel exits: it
holds the read end of a pipe whose write end only the kernel process holds, so the end of the
kernel (however it ends) closes the pipe and the listener leaves with it, and no process or
port is left behind.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket

__all__ = ["CommListener"]

log = logging.getLogger(__name__)

_REQUEST_LIMIT = 65536
"""Bytes a request may have at most (a real one has a few dozen)."""
_REQUEST_TIMEOUT = 5.0
"""Seconds a connected peer has to send its request and close."""


class CommListener:
    """Serve ``listening`` (a bound, listening socket) for the kernel process ``kernel_pid``.

    Made in the launcher before it forks; :meth:`fork` starts the serving process and returns
    to the launcher, which goes on to run the kernel.
    """

    def __init__(self, listening: socket.socket, kernel_pid: int) -> None:
        self._listening = listening
        self._kernel_pid = kernel_pid
        self.pid: int | None = None
        """The listener process, once forked."""
        self._kernel_alive = -1
        """The write end of the pipe the listener watches (launcher only)."""

    @property
    def port(self) -> int:
        """The communication port the provisioner is told about."""
        return int(self._listening.getsockname()[1])

    def fork(self, inherited: list[int]) -> None:
        """Start the listener process; close ``inherited`` descriptors in it (launcher only).

        ``inherited`` are descriptors the kernel will own (its listening ports): the listener
        must not keep them open after the kernel exits.
        """
        kernel_alive_read, kernel_alive_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the listener process
            status = 1
            try:
                os.close(kernel_alive_write)
                for descriptor in inherited:
                    with contextlib.suppress(OSError):
                        os.close(descriptor)
                # Ctrl-C in a terminal reaches the whole process group; it is for the kernel.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                self._serve(kernel_alive_read)
                status = 0
            finally:
                os._exit(status)  # never return into the launcher's code
        os.close(kernel_alive_read)
        self._kernel_alive = kernel_alive_write
        self._listening.close()  # the listener process owns it now
        self.pid = pid

    def stop(self) -> None:
        """End the listener process and reap it (launcher, once the kernel has stopped)."""
        if self.pid is None:
            return
        with contextlib.suppress(OSError):
            os.close(self._kernel_alive)  # the listener sees the kernel gone
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        self.pid = None

    # --- the listener process ---------------------------------------------------------------

    def _serve(self, kernel_alive: int) -> None:
        listening = self._listening
        while True:
            readable, _, _ = select.select([listening, kernel_alive], [], [])
            if kernel_alive in readable:
                return  # end of file: the kernel process has exited
            try:
                connection, _ = listening.accept()
            except OSError:
                continue
            with connection:
                request = _read_request(connection)
            if request is None:
                continue
            if not self._answer(request):
                return

    def _answer(self, request: dict[str, object]) -> bool:
        """Carry out one request; return whether to go on listening."""
        signum = request.get("signum")
        if signum is not None:
            if type(signum) is not int or not 0 <= signum < signal.NSIG:
                log.warning("ignored a request for signal %r", signum)
            else:
                try:
                    os.kill(self._kernel_pid, signum)
                except ProcessLookupError:
                    return False  # the kernel is gone: refuse the next poll
                except OSError as exc:
                    log.warning("could not send signal %d to the kernel: %s", signum, exc)
        return not request.get("shutdown")


def _read_request(connection: socket.socket) -> dict[str, object] | None:
    """Read one JSON object up to end of file; None for anything else."""
    connection.settimeout(_REQUEST_TIMEOUT)
    data = b""
    try:
        while len(data) <= _REQUEST_LIMIT:
            chunk = connection.recv(4096)
            if not chunk:
                break
            data += chunk
        else:
            log.warning("ignored a request of more than %d bytes", _REQUEST_LIMIT)
            return None
    except OSError:
        return None
    try:
        request = json.loads(data)
    except ValueError:
        log.warning("ignored a request that is not JSON")
        return None
    return request if isinstance(request, dict) else None
