"""The callable transport: frames in through a function call, out through a callback.

No sockets and no threads: everything runs in the kernel's own event loop (JupyterLite's web
worker calling into Pyodide, or a test). Messages are dicts shaped as JupyterLite's kernel
messages (see ``async_kernel.CallableKernel``); at this boundary they become the same wire
frames the ZeroMQ transport carries, through the same codec, unsigned since nothing leaves
the process.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeAlias

import anyio
import anyio.lowlevel
from IPython.core.error import StdinNotImplementedError

from async_caller import Caller, CallerStoppedError

from ._codec import MessageCodec, check_header, loads, unpack_own
from ._errors import InvalidMessageError
from ._message import PROTOCOL_VERSION, Channel

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._transport import FramesHandler

__all__ = [
    "CallableTransport",
    "InputHandler",
    "MessageHandler",
    "frames_to_message",
    "message_to_frames",
]

log = logging.getLogger(__name__)

MessageHandler: TypeAlias = Callable[[dict[str, Any]], object]
"""Receives one message the kernel sends (a reply or an iopub message)."""

InputHandler: TypeAlias = Callable[[dict[str, Any]], "str | Mapping[str, Any]"]
"""Answers an ``input_request`` message: the text typed, or a whole ``input_reply`` message."""

_INCOMING = {Channel.shell, Channel.control, Channel.stdin}


class CallableTransport:
    """A `Transport` whose wire is a function call in and a callback out (kernel loop only)."""

    def __init__(
        self,
        on_frames: FramesHandler,
        on_message: MessageHandler,
        on_input_request: InputHandler | None = None,
        on_start: Callable[[], object] | None = None,
    ) -> None:
        self._on_frames = on_frames
        self._on_message = on_message
        self._on_input_request = on_input_request
        self._on_start = on_start
        self._caller: Caller | None = None
        self._stopped = False

    @property
    def serving(self) -> bool:
        """Whether the kernel has started and not stopped."""
        return self._caller is not None and not self._stopped

    # --- Transport ----------------------------------------------------------------------

    def start(self) -> None:
        """Bind to the kernel's loop (its main Caller) and tell the host it is ready."""
        self._caller = Caller.get_current()
        if self._on_start is not None:
            self._on_start()

    def stop(self) -> None:
        """Drop whatever the kernel sends from now on."""
        self._stopped = True

    def send(
        self, channel: Channel, frames: Sequence[bytes | memoryview], *, urgent: bool = False
    ) -> None:
        """Hand one message to the host: ``on_message``, or ``on_input_request`` for stdin.

        Every message goes out as it is sent, so ``urgent`` changes nothing here.

        Raises:
            StdinNotImplementedError: an ``input()`` when the host takes no input requests.
        """
        del urgent
        if self._stopped:
            return
        message = frames_to_message(channel, frames)
        if channel is Channel.stdin:
            self._ask_for_input(message)
            return
        try:
            self._on_message(message)
        except Exception:
            # The host's bug: it must not fail the handler or the cell that sent the message.
            log.exception("the host's on_message callback failed on a %s", message["msg_type"])

    def call_soon(self, func: Callable[[], object]) -> None:
        """Run ``func`` soon in the kernel's loop."""
        with contextlib.suppress(CallerStoppedError):
            self._loop_caller().call_direct(func)

    def call_later(self, delay: float, func: Callable[[], object]) -> None:
        """Run ``func`` after ``delay`` seconds in the kernel's loop."""
        with contextlib.suppress(CallerStoppedError):
            self._loop_caller().call_later(delay, func)

    async def read_waiting(self, channel: Channel) -> None:
        """Let the loop run once, so messages the host has already queued are received.

        ``receive`` hands a message over as it is called, but a host may have queued calls
        for the loop to make (Pyodide: the worker's pending message events; a host thread:
        callbacks it scheduled). A failing cell aborts what was received before its failure
        (stop_on_error); requests the host had not passed on by then still run.
        """
        del channel
        await anyio.lowlevel.checkpoint()

    # --- from the host ------------------------------------------------------------------

    def receive(self, message: Mapping[str, Any] | str | bytes) -> None:
        """Take one message from the host (kernel loop).

        Raises:
            InvalidMessageError: ``message`` is not a message dict (or its JSON), names no
                channel the kernel reads, or has no valid header (msg_id, msg_type). One whose
                other parts are bad gets an error reply, as over ZeroMQ.
        """
        channel, frames = message_to_frames(message)
        self._on_frames(channel, frames)

    # --- helpers ------------------------------------------------------------------------

    def _loop_caller(self) -> Caller:
        if self._caller is None:
            self._caller = Caller.get_current()
        return self._caller

    def _ask_for_input(self, request: dict[str, Any]) -> None:
        if self._on_input_request is None:
            msg = "input() is not available: the host of this kernel takes no input requests"
            raise StdinNotImplementedError(msg)
        answer = self._on_input_request(request)
        if isinstance(answer, Mapping):
            reply = dict(answer)
            reply.setdefault("channel", "stdin")
        else:
            reply = {
                "channel": "stdin",
                "header": _header("input_reply", request["header"].get("session", "")),
                "parent_header": request["header"],
                "metadata": {},
                "content": {"status": "ok", "value": str(answer)},
            }
        self.receive(reply)


_CODEC = MessageCodec(b"")
"""Unsigned: nothing leaves the process. The same codec as over ZeroMQ, so one wire format."""


def message_to_frames(message: Mapping[str, Any] | str | bytes) -> tuple[Channel, list[bytes]]:
    """Turn a host's message into the channel and unsigned wire frames it stands for.

    Raises:
        InvalidMessageError: not a message (see `CallableTransport.receive`).
    """
    if isinstance(message, str | bytes):
        try:
            message = loads(message if isinstance(message, bytes) else message.encode())
        except ValueError as exc:
            raise InvalidMessageError(f"the message is not valid JSON: {exc}") from exc
    if not isinstance(message, Mapping):
        msg = f"a message must be a dict (or its JSON), got {type(message).__name__}"
        raise InvalidMessageError(msg)
    name = message.get("channel")
    try:
        channel = Channel(name)
    except ValueError:
        channel = None
    if channel not in _INCOMING:
        msg = f"message channel must be 'shell', 'control' or 'stdin', got {name!r}"
        raise InvalidMessageError(msg)
    assert channel is not None
    header = message.get("header")
    if not isinstance(header, Mapping):
        raise InvalidMessageError(f"message header must be a dict, got {type(header).__name__}")
    check_header(dict(header))
    buffers = message.get("buffers") or []
    if not isinstance(buffers, list | tuple) or not all(
        isinstance(buffer, bytes | bytearray | memoryview) for buffer in buffers
    ):
        raise InvalidMessageError("message buffers must be a list of bytes-like objects")
    try:
        frames = _CODEC.serialize(
            dict(header),
            message.get("parent_header") or {},
            message.get("content") or {},
            message.get("metadata") or {},
            buffers=[bytes(buffer) for buffer in buffers],
        )
    except (TypeError, ValueError) as exc:
        raise InvalidMessageError(f"the message cannot be encoded as JSON: {exc}") from exc
    return channel, [bytes(frame) for frame in frames]


def frames_to_message(channel: Channel, frames: Sequence[bytes | memoryview]) -> dict[str, Any]:
    """Turn the wire frames the kernel sends into the dict a host receives."""
    (header, parent_header, metadata, content), buffers = unpack_own(frames)
    return {
        "channel": str(channel),
        "header": header,
        "parent_header": parent_header,
        "metadata": metadata,
        "content": content,
        "buffers": [memoryview(frame) for frame in buffers],
        "msg_id": header["msg_id"],
        "msg_type": header["msg_type"],
    }


def _header(msg_type: str, session: str) -> dict[str, Any]:
    return {
        "msg_id": uuid.uuid4().hex,
        "msg_type": msg_type,
        "username": "host",
        "session": session,
        "date": datetime.now(UTC).isoformat(),
        "version": PROTOCOL_VERSION,
    }
