"""The one way out: every reply, iopub message and input request is built and sent here.

Headers come from the kernel's :class:`MessageFactory`, frames from its codec (the only place
frames are built), and the transport carries them. Any thread may call these methods: the
codec signs without shared state and the transport hands frames to its own thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..messaging._message import Channel, reply_type
from ._context import current_request

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ..messaging._codec import MessageCodec
    from ..messaging._message import Message, MessageFactory
    from ..messaging._transport import Transport

__all__ = ["Outbox", "Sender"]


class Sender(Protocol):
    """Replies to requests and publishes on iopub (any thread)."""

    def reply(
        self,
        request: Message,
        msg_type: str,
        content: dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Send a reply to ``request`` on the channel it came from."""
        ...

    def reply_error(
        self, request: Message, ename: str, evalue: str, traceback: Sequence[str] = ()
    ) -> None:
        """Send ``request``'s reply type with status ``error``."""
        ...

    def publish(
        self,
        msg_type: str,
        content: dict[str, Any],
        parent: Message | None = None,
        metadata: dict[str, Any] | None = None,
        buffers: Sequence[bytes | memoryview] = (),
        *,
        urgent: bool = False,
    ) -> None:
        """Send a message on iopub, by default as a child of the current request."""
        ...

    def flush_streams(self) -> None:
        """Publish buffered stdout and stderr."""
        ...


class Outbox:
    """Sends the kernel's messages: replies, iopub output and status, stdin requests."""

    def __init__(self, codec: MessageCodec, factory: MessageFactory) -> None:
        self.codec = codec
        self.factory = factory
        self.transport: Transport
        """Set by the kernel once it made the transport (which delivers to the dispatcher)."""
        self.last_execute: Message | None = None
        """The latest execute_request that started: output from unknown threads goes there."""
        self.unflushed: set[Callable[[], object]] = set()
        """The flush methods of streams written to since the last :meth:`flush_streams`.

        A stream adds its own when it buffers text, so a request without output calls none.
        """

    def flush_streams(self) -> None:
        """Publish buffered stdout and stderr (any thread)."""
        unflushed = self.unflushed
        while unflushed:
            try:
                flush = unflushed.pop()
            except KeyError:  # another thread took the last one
                return
            flush()

    def reply(
        self,
        request: Message,
        msg_type: str,
        content: dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Send a reply to ``request`` on the channel it came from."""
        header = self.factory.header(msg_type, request.subshell_id)
        frames = self.codec.serialize(
            header, request.header_frame or request.header, content, metadata, idents=request.idents
        )
        self.transport.send(request.channel, frames)

    def reply_error(
        self, request: Message, ename: str, evalue: str, traceback: Sequence[str] = ()
    ) -> None:
        """Send ``request``'s reply type with status ``error`` (requests only)."""
        msg_type = reply_type(request.msg_type)
        if msg_type is None:
            return
        content = {
            "status": "error",
            "ename": ename,
            "evalue": evalue,
            "traceback": list(traceback),
        }
        self.reply(request, msg_type, content, {"status": "error"})

    def publish(
        self,
        msg_type: str,
        content: dict[str, Any],
        parent: Message | None = None,
        metadata: dict[str, Any] | None = None,
        buffers: Sequence[bytes | memoryview] = (),
        *,
        urgent: bool = False,
    ) -> None:
        """Send a message on iopub, by default as a child of the current request.

        ``buffers`` are sent as extra binary frames after the content (comm messages use them);
        ``urgent`` sends it at once, not at the end of the transport's quiet window.
        """
        if parent is None:
            parent = current_request.get() or self.last_execute
        subshell_id = parent.subshell_id if parent is not None else None
        header = self.factory.header(msg_type, subshell_id)
        frames = self.codec.serialize(
            header,
            (parent.header_frame or parent.header) if parent else None,
            content,
            metadata,
            buffers=buffers,
            idents=(f"kernel.{msg_type}".encode(),),
        )
        self.transport.send(Channel.iopub, frames, urgent=urgent)

    def publish_status(self, state: str, parent: Message) -> None:
        """Send ``status`` (busy or idle) for ``parent``."""
        if state == "busy" and parent.msg_type == "execute_request":
            self.last_execute = parent
        # Idle ends a request: it takes the reply and the request's output out with it.
        self.publish("status", {"execution_state": state}, parent, urgent=state == "idle")

    def request_input(
        self, request: Message, header: dict[str, Any], prompt: str, *, password: bool
    ) -> None:
        """Send ``input_request`` (made with :meth:`input_header`) to ``request``'s frontend."""
        frames = self.codec.serialize(
            header,
            request.header_frame or request.header,
            {"prompt": prompt, "password": password},
            idents=request.idents,
        )
        self.transport.send(Channel.stdin, frames, urgent=True)

    def input_header(self, request: Message) -> dict[str, Any]:
        """A new ``input_request`` header: its msg_id is known before the request goes out."""
        return self.factory.header("input_request", request.subshell_id)

    def parent_of_current_code(self) -> Message | None:
        """The request the calling code runs for, else the latest execute_request."""
        return current_request.get() or self.last_execute
