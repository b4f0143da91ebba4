"""The parts of ipykernel's kernel object that libraries reach for, on our kernel.

Code in the wild takes ``get_ipython().kernel`` to be ipykernel's ``Kernel``. What it uses,
found by running those libraries (tests/protocol/test_ipykernel_compat.py):

- ``session.send(kernel.iopub_socket, msg_type, content, parent=kernel.get_parent())`` to
  publish directly (display updates), and ``send_response`` (ipywidgets' ``Output``);
- ``get_parent(channel)``, ``set_parent``, ``_parent_ident``, ``execution_count``, ``shell``
  and ``comm_manager``;
- ``do_one_iteration()``, ``shell_handlers`` and ``_aborting`` (jupyter-ui-poll, which
  handles widget messages while a cell blocks).

Messages sent through these go out through our own transport, from any thread. The sockets
are stand-ins that only name their channel: nothing here touches ZeroMQ.

``do_one_iteration`` runs the comm messages waiting for the main shell, which a cell that
blocks the main thread would otherwise hold back until it ends. Each such message is noted
as it arrives (IO thread); whoever runs it first, the shell's queue or a poll, runs it, once.
"""

from __future__ import annotations

import collections
import threading
from typing import TYPE_CHECKING, Any

from .messaging._message import Channel, Message

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._dispatcher import Dispatcher
    from .handlers._comms import CommManager
    from .messaging._codec import MessageCodec
    from .messaging._message import MessageFactory
    from .messaging._transport import Transport
    from .runtime._outbox import Outbox
    from .shell._shell import KernelShell

__all__ = ["IPyKernelCompat", "KernelSession", "KernelSocket"]

_POLLED = frozenset({"comm_msg", "comm_close"})
"""Shell messages a poll may run while the main shell's cell blocks."""


class KernelSocket:
    """Stands for one of ipykernel's sockets: ``session.send`` to it sends on its channel."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def __repr__(self) -> str:
        return f"<async-kernel {self.channel} socket>"


class KernelSession:
    """The part of jupyter_client's ``Session`` that code inside a kernel uses.

    Signing and serialising are the kernel's own; this only builds messages and sends them.
    """

    def __init__(self, kernel: IPyKernelCompat) -> None:
        self._kernel = kernel
        self.session: str = kernel.factory.session
        self.username: str = kernel.factory.username

    def msg_header(self, msg_type: str) -> dict[str, Any]:
        """A new header for a message of ``msg_type`` from this kernel."""
        return self._kernel.factory.header(msg_type)

    def msg(
        self,
        msg_type: str,
        content: dict[str, Any] | None = None,
        parent: dict[str, Any] | None = None,
        header: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A message as a dict, in jupyter_client's layout."""
        header = header if header is not None else self.msg_header(msg_type)
        return {
            "header": header,
            "msg_id": header["msg_id"],
            "msg_type": header["msg_type"],
            "parent_header": (parent or {}).get("header", parent or {}),
            "content": content if content is not None else {},
            "metadata": metadata if metadata is not None else {},
        }

    def send(
        self,
        stream: object,
        msg_or_type: dict[str, Any] | str,
        content: dict[str, Any] | None = None,
        parent: dict[str, Any] | None = None,
        ident: bytes | Sequence[bytes] | None = None,
        buffers: Sequence[bytes | memoryview] | None = None,
        track: bool = False,
        header: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send a message on the channel ``stream`` stands for (any thread); return it.

        Raises:
            TypeError: ``stream`` is not one of the kernel's sockets (``kernel.iopub_socket``,
                ``kernel.shell_socket``, ...).
        """
        del track
        if not isinstance(stream, KernelSocket):
            msg = f"send to one of the kernel's sockets (kernel.iopub_socket), not {stream!r}"
            raise TypeError(msg)
        if isinstance(msg_or_type, dict):
            message = msg_or_type
        else:
            message = self.msg(msg_or_type, content, parent, header, metadata)
        kernel = self._kernel
        parent_message = _as_message(parent) if parent else None
        if stream.channel is Channel.iopub:
            kernel.outbox.publish(
                message["msg_type"],
                message["content"],
                parent_message,
                message["metadata"],
                buffers or (),
            )
            return message
        idents = [ident] if isinstance(ident, bytes) else list(ident or ())
        frames = kernel.codec.serialize(
            message["header"],
            message["parent_header"],
            message["content"],
            message["metadata"],
            buffers=buffers or (),
            idents=idents,
        )
        kernel.transport.send(stream.channel, frames)
        return message


def _as_message(parent: dict[str, Any]) -> Message:
    """A parent given as a dict (``get_parent()``), as the kernel's own message type."""
    header = parent.get("header", parent)
    return Message(
        Channel.shell,
        header=dict(header),
        parent_header=dict(parent.get("parent_header") or {}),
        metadata=dict(parent.get("metadata") or {}),
        content=dict(parent.get("content") or {}),
    )


class IPyKernelCompat:
    """ipykernel's names on the Kernel (a base class of it; see the module docstring)."""

    shell: KernelShell
    outbox: Outbox
    comm_manager: CommManager
    dispatcher: Dispatcher
    factory: MessageFactory
    codec: MessageCodec
    transport: Transport

    iopub_socket = KernelSocket(Channel.iopub)
    shell_socket = KernelSocket(Channel.shell)
    control_socket = KernelSocket(Channel.control)
    stdin_socket = KernelSocket(Channel.stdin)

    _aborting = False
    """ipykernel's flag for requests aborted after an error; ours are aborted as they arrive."""

    def __init__(self) -> None:
        self.session = KernelSession(self)
        self.shell_handlers: dict[str, Any] = {"execute_request": self._execute_request_stub}
        """ipykernel's handler table; jupyter-ui-poll swaps its execute_request entry and back.

        Not used for dispatch: execute requests that arrive while a cell runs wait their
        turn anyway, which is what jupyter-ui-poll's swap achieves on ipykernel.
        """
        self._parent_ident: dict[str, bytes] = {"shell": b"", "control": b""}
        self._waiting: collections.deque[Message] = collections.deque()
        self._waiting_lock = threading.Lock()

    @property
    def execution_count(self) -> int:
        """The main shell's execution count (of the calling subshell, in one)."""
        return self.shell.execution_count

    def set_parent(self, ident: object, parent: object, channel: str = "shell") -> None:
        """Accepted and ignored: output follows each request through context variables."""
        del ident, parent, channel

    def send_response(
        self,
        stream: object,
        msg_or_type: dict[str, Any] | str,
        content: dict[str, Any] | None = None,
        ident: bytes | Sequence[bytes] | None = None,
        buffers: Sequence[bytes | memoryview] | None = None,
        track: bool = False,
        header: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        channel: str = "shell",
    ) -> dict[str, Any]:
        """Send a message as a child of the current request (ipykernel's ``send_response``)."""
        del channel
        parent = self.get_parent()
        return self.session.send(
            stream, msg_or_type, content, parent or None, ident, buffers, track, header, metadata
        )

    def get_parent(self, channel: str | None = None) -> dict[str, Any]:
        """The request the calling code runs for (the Kernel's own)."""
        raise NotImplementedError

    async def _execute_request_stub(self, *args: object) -> None:
        """Stands in ipykernel's handler table; never called by this kernel."""
        del args

    # --- do_one_iteration ---------------------------------------------------------------------

    def note_arrival(self, msg: Message) -> None:
        """Keep a comm message for the main shell, which a poll may run (IO thread).

        The dispatcher calls it for those only: a subshell's comm runs in that subshell's
        thread, never blocked by a cell of the main shell.
        """
        if msg.channel is not Channel.shell or msg.msg_type not in _POLLED:
            return
        with self._waiting_lock:
            waiting = self._waiting
            while waiting and waiting[0].started:  # run by the shell's queue meanwhile
                waiting.popleft()
            waiting.append(msg)

    def do_one_iteration(self) -> None:
        """Run the oldest comm message waiting for the main shell, here and now (any thread).

        A cell that blocks the main thread (jupyter-ui-poll's ``run_ui_poll_loop``) calls this
        to let widget events through; a message the shell's queue ran already is skipped.
        """
        self.outbox.flush_streams()
        while True:
            with self._waiting_lock:
                if not self._waiting:
                    return
                msg = self._waiting.popleft()
            if self.dispatcher.run_now(msg):
                return
