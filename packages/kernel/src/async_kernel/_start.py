"""Starting a kernel process from a connection file."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import TYPE_CHECKING

import anyio

from ._backends import resolve_backend
from ._children import end_child_processes
from ._connection import ConnectionInfo
from ._kernel import Kernel, main_thread_only

if TYPE_CHECKING:
    from types import FrameType

__all__ = ["start_kernel"]

log = logging.getLogger(__name__)


def start_kernel(
    connection_file: str, *, backend: str = "asyncio", log_level: str = "WARNING"
) -> None:
    """Serve the kernel described by ``connection_file`` until it is shut down (main thread).

    Raises:
        UnknownBackendError: no backend of that name is installed.
        ConnectionFileError: the connection file cannot be used.
    """
    main_thread_only()
    backend_spec = resolve_backend(backend)
    logging.basicConfig(
        level=log_level.upper(),
        stream=sys.__stderr__,
        format="[async-kernel %(levelname)s] %(message)s",
    )
    info = ConnectionInfo.load(connection_file)
    kernel = Kernel(info, backend=backend_spec.name)
    kernel.interrupts.install_signal_handler()
    _shut_down_on_sigterm(kernel)
    # Threads inherit the signal mask: block SIGINT while the kernel's threads start so it is
    # delivered to the main thread, which unblocks it once running.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        anyio.run(
            kernel.run, backend=backend_spec.anyio_backend, backend_options=backend_spec.options
        )
    finally:
        end_child_processes()


def _shut_down_on_sigterm(kernel: Kernel) -> None:
    """Make SIGTERM a clean shutdown, as a shutdown_request is, with exit status 0.

    The handler runs in the main thread between two bytecodes of whatever runs there, maybe
    holding a lock the shutdown needs; so it only starts a thread that asks for the shutdown.
    """

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        log.info("SIGTERM received; shutting down")
        threading.Thread(
            target=kernel.request_shutdown, name="async-kernel-sigterm", daemon=True
        ).start()

    signal.signal(signal.SIGTERM, on_sigterm)
