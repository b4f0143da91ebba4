"""A kernel process that serves the callable interface to ZeroMQ clients, without threads.

Protocol tests run against it as against the ZeroMQ kernel: jupyter_client talks ZeroMQ to
this host, which plays JupyterLite's part and passes each message to
``CallableKernel.receive`` and each message the kernel hands its callback back to the
sockets. The host's own IO and heartbeat threads start first; from then on starting a thread
raises ``RuntimeError``, as in Pyodide, and callers fall back to tasks. So the kernel runs as
it does in a browser: one thread, one event loop.

Usage: ``python callable_host.py -f CONNECTION_FILE [--backend asyncio|trio]``.
"""

from __future__ import annotations

import argparse
import logging
import queue
import sys
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import anyio

from async_caller import Caller, set_threads_available
from async_kernel import InvalidMessageError
from async_kernel._callable import CallableKernel
from async_kernel.messaging._codec import MessageCodec
from async_kernel.messaging._connection import ConnectionInfo
from async_kernel.messaging._message import Channel
from async_kernel.messaging.zmq import ZmqTransport
from async_kernel.runtime._backends import resolve_backend

log = logging.getLogger("callable_host")

_IDENTS_KEPT = 10_000


class ZmqHost:
    """Bridges ZeroMQ clients and a `CallableKernel` running in this thread's event loop."""

    def __init__(self, info: ConnectionInfo, backend: str) -> None:
        self.codec = MessageCodec(info.key, info.signature_scheme)
        self.sockets = ZmqTransport(info, self._on_frames)
        self.kernel = CallableKernel(
            self._send, on_input_request=self._ask_for_input, backend=backend
        )
        self._idents: OrderedDict[str, list[bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._loop_caller: Caller | None = None
        self._early: list[dict[str, Any]] = []
        """Requests that came before the kernel served (IO thread, under the lock)."""
        self._input_replies: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()

    async def serve(self) -> None:
        """Run the kernel until it is shut down (main thread, in its loop)."""
        async with anyio.create_task_group() as tasks:
            await tasks.start(self.kernel.serve)
            with self._lock:
                self._loop_caller = Caller.get_current()
                early, self._early = self._early, []
            for message in early:
                self._deliver(message)

    # --- from the clients (IO thread) ----------------------------------------------------

    def _on_frames(self, channel: Channel, frames: list[bytes]) -> None:
        try:
            msg = self.codec.deserialize(channel, frames)
        except InvalidMessageError as exc:
            log.warning("dropped a message on %s: %s", channel, exc)
            return
        message = {
            "channel": str(channel),
            "header": msg.header,
            "parent_header": msg.parent_header,
            "metadata": msg.metadata,
            "content": msg.content,
            "buffers": msg.buffers,
        }
        if channel is Channel.stdin:
            self._input_replies.put(message)
            return
        with self._lock:
            self._idents[msg.msg_id] = msg.idents
            while len(self._idents) > _IDENTS_KEPT:
                self._idents.popitem(last=False)
            caller = self._loop_caller
            if caller is None:
                self._early.append(message)
                return
        caller.call_direct(self._deliver, message)

    def _deliver(self, message: dict[str, Any]) -> None:
        try:
            self.kernel.receive(message)
        except InvalidMessageError as exc:
            log.warning("the kernel refused a message: %s", exc)

    # --- from the kernel (its loop) ------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        channel = Channel(message["channel"])
        if channel is Channel.iopub:
            idents = [f"kernel.{message['msg_type']}".encode()]
        else:
            idents = self._idents_of(message)
        frames = self.codec.serialize(
            message["header"],
            message["parent_header"],
            message["content"],
            message["metadata"],
            buffers=message["buffers"],
            idents=idents,
        )
        # The kernel already sent it: no quiet window on top of the callable interface's.
        self.sockets.send(channel, frames, urgent=True)

    def _ask_for_input(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send the input_request to the client and block until its input_reply comes."""
        frames = self.codec.serialize(
            request["header"],
            request["parent_header"],
            request["content"],
            request["metadata"],
            idents=self._idents_of(request),
        )
        self.sockets.send(Channel.stdin, frames, urgent=True)
        return self._input_replies.get()

    def _idents_of(self, message: dict[str, Any]) -> list[bytes]:
        with self._lock:
            return self._idents.get(message["parent_header"].get("msg_id", ""), [])


def _refuse_threads() -> None:
    """Make starting a thread fail from now on, as it does in Pyodide."""

    def refuse(self: threading.Thread) -> None:
        msg = f"can't start new thread {self.name!r}: threads are off in this host"
        raise RuntimeError(msg)

    threading.Thread.start = refuse


def main() -> None:
    """Serve the connection file given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-f", dest="connection_file", required=True)
    parser.add_argument("--backend", default="asyncio")
    args = parser.parse_args()
    logging.basicConfig(
        level="WARNING", stream=sys.__stderr__, format="[callable-host %(levelname)s] %(message)s"
    )
    spec = resolve_backend(args.backend)
    set_threads_available(False)
    host = ZmqHost(ConnectionInfo.load(Path(args.connection_file)), spec.name)
    host.sockets.start()  # the host's own threads, before threads are refused
    _refuse_threads()
    try:
        anyio.run(host.serve, backend=spec.anyio_backend, backend_options=spec.options)
    finally:
        host.sockets.stop()


if __name__ == "__main__":
    main()
