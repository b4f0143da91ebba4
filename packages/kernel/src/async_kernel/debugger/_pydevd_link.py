"""Connecting the kernel to pydevd, the debugger that debugpy runs inside this process.

Why pydevd connects to the kernel, and not the other way round: debugpy offers two ways to be
reached, and both failed under the load of the parallel test suite.

- ``debugpy.listen()`` starts debugpy's adapter as a daemon process and waits, with no
  timeout on the read, for it to report its ports on a one-shot listener at an ephemeral port.
  Whoever connects there first is believed: a ZeroMQ socket still reconnecting to the port of a
  kernel that has ended (jupyter_client's ports are ephemeral too) sends its greeting instead,
  and ``listen`` fails ("error retrieving adapter endpoints: 'utf-8' codec can't decode byte
  0xff") or blocks for as long as that peer stays connected, while the adapter it started is
  left running. Starting the adapter also costs a second Python process (about 2 s under load).
- ``listen(in_process_debug_adapter=True)`` makes pydevd listen itself, for the kernel's whole
  life, without a token: every later connection to that port takes the session over from the
  kernel (pydevd drops the current client for the new one), and any local process can run
  code in the kernel through it.

So the kernel listens, on an ephemeral port for a moment only, and ``debugpy.connect()`` makes
pydevd connect to it with a token that pydevd hands back in its answer to ``pydevdAuthorize``
(the check debugpy's adapter makes). Connections that do not answer with the token are
closed; the first that does is pydevd, and the listener closes at once. The connection then
lasts as long as the kernel: a frontend's 'disconnect' ends the session, not the connection
(pydevd cannot connect twice in one process).

Threads: :func:`connect_pydevd` runs in the control thread's loop; ``debugpy.connect`` runs in
a thread of its own, because it blocks until the first session's ``configurationDone``. Only
after that does pydevd turn tracing on in the kernel's threads, so the first 'attach' waits
for ``debugpy.connect`` to return (the event :func:`connect_pydevd` hands back): a cell run
right after it would otherwise miss its breakpoints.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from typing import TYPE_CHECKING

import aiologic
import anyio
from anyio.abc import SocketAttribute

from ._debugpy_client import DebugpyClient, DebugpyClosedError

if TYPE_CHECKING:
    from collections.abc import Callable

    from anyio.abc import Listener, SocketStream

    from ._dap import DapMessage

__all__ = ["accept_pydevd", "connect_pydevd"]

log = logging.getLogger(__name__)

LOCALHOST = "127.0.0.1"
_CONNECTOR_THREAD_NAME = "async-kernel-debugpy-connect"
"""The thread that calls ``debugpy.connect`` (hidden from the debugger, like the kernel's)."""


async def connect_pydevd(
    on_message: Callable[[DapMessage], None],
) -> tuple[DebugpyClient, aiologic.Event]:
    """Have pydevd connect to the kernel (control thread).

    Returns the checked connection, and an event set once ``debugpy.connect`` has returned
    (after the first ``configurationDone``; pydevd traces the kernel's threads from then on).
    The caller starts :meth:`DebugpyClient.read_forever` next. Bound the wait with a cancel
    scope: if it is cancelled, pydevd finds no listener and its thread logs the failure.

    Raises:
        ConnectionError: If ``debugpy.connect`` fails.
    """
    token = secrets.token_hex(32)
    listener = await anyio.create_tcp_listener(local_host=LOCALHOST)
    async with listener:
        connector = _Connector(listener.extra(SocketAttribute.local_port), token)
        connector.start()
        client: DebugpyClient | None = None
        async with anyio.create_task_group() as group:

            async def stop_if_connect_fails() -> None:
                await connector.failed
                group.cancel_scope.cancel()

            group.start_soon(stop_if_connect_fails)
            client = await accept_pydevd(listener, token, on_message)
            group.cancel_scope.cancel()
    if client is None:
        raise ConnectionError(f"debugpy could not connect to the kernel: {connector.error!r}")
    return client, connector.returned


async def accept_pydevd(
    listener: Listener[SocketStream], token: str, on_message: Callable[[DapMessage], None]
) -> DebugpyClient:
    """Accept connections until one answers ``pydevdAuthorize`` with ``token``; return it.

    Each connection is checked in a task of its own, so a silent stray peer cannot hold up
    pydevd's; the others are closed once pydevd's is found.
    """
    found: list[DebugpyClient] = []
    async with anyio.create_task_group() as group:

        async def check(stream: SocketStream) -> None:
            client = DebugpyClient(stream, on_message, name="pydevd")
            try:
                answer = await client.handshake("pydevdAuthorize", {"debugServerAccessToken": None})
                if (answer.get("body") or {}).get("clientAccessToken") == token:
                    found.append(client)
                    group.cancel_scope.cancel()
                    return
                log.warning("a connection to the debugger's port gave the wrong token")
            except DebugpyClosedError as exc:
                log.warning("a connection to the debugger's port was not pydevd: %s", exc)
            finally:
                if client not in found:
                    await client.aclose()

        await listener.serve(check, group)
    return found[0]


class _Connector:
    """Runs ``debugpy.connect`` in its own thread; reports a failure to the control loop."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.error: BaseException | None = None
        self.failed = aiologic.Event()
        """Set (from the connector thread) when ``debugpy.connect`` raised."""
        self.returned = aiologic.Event()
        """Set (from the connector thread) when ``debugpy.connect`` has returned or raised."""

    def start(self) -> None:
        thread = threading.Thread(target=self._run, name=_CONNECTOR_THREAD_NAME, daemon=True)
        thread.pydev_do_not_trace = True  # pyright: ignore[reportAttributeAccessIssue]
        thread.is_pydev_daemon_thread = True  # pyright: ignore[reportAttributeAccessIssue]
        thread.start()

    def _run(self) -> None:
        """Import debugpy and connect (connector thread); returns after configurationDone."""
        try:
            # debugpy warns on stderr that frozen stdlib modules may miss breakpoints; cells
            # are not frozen, and the warning would reach the frontend as output.
            os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
            import debugpy  # noqa: T100 - the debugger is the point; imported late, it is slow

            debugpy.configure(subProcess=False)
            debugpy.connect((LOCALHOST, self.port), access_token=self.token)
        except BaseException as exc:
            log.exception("debugpy.connect to the kernel failed")
            self.error = exc
            self.failed.set()
        finally:
            self.returned.set()
