"""Starting a kernel process from a connection file."""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from ._kernel import Kernel, main_thread_only
from .messaging._connection import ConnectionInfo
from .messaging._listeners import Listeners, listen
from .messaging.zmq import ZmqTransport
from .runtime._backends import resolve_backend
from .runtime._children import end_child_processes
from .runtime._logging import configure_logging
from .runtime._parent_watch import watch_parent, watched_parent
from .shell._config import load_kernel_config

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import FrameType

    from .messaging._message import Channel

__all__ = ["start_kernel"]

log = logging.getLogger(__name__)


def start_kernel(
    connection_file: str,
    *,
    backend: str = "asyncio",
    log_level: str = "WARNING",
    ip: str | None = None,
    kernel_class: type[Kernel] = Kernel,
    settings: Sequence[str] = (),
    profile: str | None = None,
    quiet: bool = True,
    backend_options: dict[str, Any] | None = None,
) -> None:
    """Serve the kernel described by ``connection_file`` until it is shut down (main thread).

    ``kernel_class`` is the kernel to serve: a subclass of `Kernel` makes a custom kernel.

    When ``connection_file`` does not exist, the kernel makes a new connection on ``ip``
    (default 127.0.0.1) and writes it there, owner-only, once its sockets are bound; the file
    is removed when the kernel exits.

    ``settings`` are ``--Class.trait=value`` arguments, merged over the IPython ``profile``'s
    config files (see ``shell._config``); ``quiet=False`` echoes cell output to this process's
    stdout and stderr; ``backend_options`` go to the backend's event loop (such as
    ``{"use_uvloop": True}`` for asyncio).

    Raises:
        UnknownBackendError: no backend of that name is installed.
        ConnectionFileError: the connection file cannot be used.
    """
    run_kernel(
        connection_file,
        listen(connection_file),
        backend=backend,
        log_level=log_level,
        ip=ip,
        kernel_class=kernel_class,
        settings=settings,
        profile=profile,
        quiet=quiet,
        backend_options=backend_options,
    )


def run_kernel(
    connection_file: str,
    listeners: Listeners,
    *,
    backend: str = "asyncio",
    log_level: str = "WARNING",
    ip: str | None = None,
    kernel_class: type[Kernel] = Kernel,
    settings: Sequence[str] = (),
    profile: str | None = None,
    quiet: bool = True,
    backend_options: dict[str, Any] | None = None,
) -> None:
    """:func:`start_kernel` with sockets already listening on the file's ports (closes them).

    The command line listens (``_listeners.listen``) before it imports this module.
    """
    try:
        _run_kernel(
            connection_file,
            listeners,
            backend=backend,
            log_level=log_level,
            ip=ip,
            kernel_class=kernel_class,
            options=_StartOptions(settings, profile, quiet, backend_options or {}),
        )
    finally:
        listeners.close()


@dataclass(frozen=True, slots=True)
class _StartOptions:
    settings: Sequence[str]
    profile: str | None
    quiet: bool
    backend_options: dict[str, Any]


def _run_kernel(
    connection_file: str,
    listeners: Listeners,
    *,
    backend: str,
    log_level: str,
    ip: str | None,
    kernel_class: type[Kernel],
    options: _StartOptions,
) -> None:
    main_thread_only()
    backend_spec = resolve_backend(backend)
    configure_logging(log_level)
    config = load_kernel_config(options.settings, options.profile)
    path = Path(connection_file)
    writes_file = not path.exists()
    info = ConnectionInfo.generate(ip or "127.0.0.1") if writes_file else ConnectionInfo.load(path)

    def transport(on_frames: Callable[[Channel, list[bytes]], None]) -> ZmqTransport:
        return ZmqTransport(info, on_frames, listeners=listeners)

    # Threads inherit the signal mask: block SIGINT while the kernel's threads start (the
    # shell's history thread among them) so it is delivered to the main thread, which
    # unblocks it once running.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    kernel = kernel_class(
        info,
        backend=backend_spec.name,
        transport=transport,
        config=config,
        echo=not options.quiet,
    )
    kernel.connection_file = str(path.resolve())
    if writes_file and isinstance(kernel.transport, ZmqTransport):
        kernel.transport.on_bound = lambda ports: _write_connection_file(info, ports, path)
    kernel.interrupts.install_signal_handler()
    _shut_down_on_sigterm(kernel)
    parent = watched_parent()
    if parent is not None:
        watch_parent(parent, _terminate_self)
    try:
        anyio.run(
            kernel.run,
            backend=backend_spec.anyio_backend,
            backend_options={**backend_spec.options, **options.backend_options},
        )
    except BaseException:
        # By now sys.stderr publishes on iopub, which dies with the kernel: the traceback must
        # reach the process's own stderr (the frontend's log), or the kernel dies silently.
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        raise
    finally:
        end_child_processes()
        if writes_file:
            path.unlink(missing_ok=True)


def _write_connection_file(info: ConnectionInfo, ports: dict[str, int], path: Path) -> None:
    info.with_ports(ports).write(path)
    log.info("wrote connection file %s", path)


PARENT_GONE_GRACE = 10.0
"""Seconds a kernel whose client has gone gets to shut down cleanly before it exits anyway."""


def _terminate_self() -> None:
    """Shut down as on SIGTERM; exit regardless if that takes too long (any thread)."""
    os.kill(os.getpid(), signal.SIGTERM)
    timer = threading.Timer(PARENT_GONE_GRACE, os._exit, (1,))
    timer.daemon = True
    timer.start()


def _shut_down_on_sigterm(kernel: Kernel) -> None:
    """Make SIGTERM a clean shutdown, as a shutdown_request is, with exit status 0.

    The handler runs in the main thread between two bytecodes of whatever runs there, maybe
    holding a lock the shutdown needs; so it hands the request to a helper thread, and
    interrupts the running cells itself (raising ``KeyboardInterrupt`` here if one runs in
    the main thread).
    """

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        interrupts = kernel.interrupts
        interrupts.signal_watcher.acknowledge(signum)
        kernel.shell.terminating = True  # an interrupted cell's error says why
        interrupts.defer_from_signal_handler(functools.partial(kernel.request_shutdown, False))
        interrupts.interrupt_from_signal_handler(frame)

    signal.signal(signal.SIGTERM, on_sigterm)
