"""Starting a kernel process from a connection file."""

from __future__ import annotations

import logging
import signal
import sys

import anyio

from ._backends import resolve_backend
from ._connection import ConnectionInfo
from ._kernel import Kernel, main_thread_only

__all__ = ["start_kernel"]


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
    # Threads inherit the signal mask: block SIGINT while the kernel's threads start so it is
    # delivered to the main thread, which unblocks it once running.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    anyio.run(kernel.run, backend=backend_spec.anyio_backend, backend_options=backend_spec.options)
