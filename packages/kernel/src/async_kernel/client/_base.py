"""The requests every client makes, whatever carries its messages.

A subclass sends frames (``_send``) and hands what it receives to ``_receive`` from any
thread; this class matches replies and iopub output to requests and wakes the waiting task.
Waiting uses async_caller's `Pending`, which any event loop of either backend can await, so
the clients work on asyncio and trio alike.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from async_caller import Pending

from .._exceptions import KernelError
from ..messaging._codec import DELIMITER, MessageCodec
from ..messaging._codec import loads as json_loads
from ..messaging._message import Channel, MessageFactory

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["ClientError", "KernelClient", "KernelReply", "decode_frames"]

DEFAULT_TIMEOUT = 60.0
"""Seconds a request waits for its reply (and its output) unless told otherwise."""


class ClientError(KernelError, RuntimeError):
    """A client cannot make a request: it is closed, misused, or its kernel did not answer."""


@dataclass(slots=True)
class KernelReply:
    """A request's reply and the iopub messages the kernel sent for it.

    Attributes:
        msg_type: The reply's type, such as ``execute_reply``.
        content: The reply's content: ``status`` and the rest.
        header: The reply's header.
        metadata: The reply's metadata.
        outputs: The iopub messages whose parent is the request (``stream``,
            ``execute_result``, ``display_data``, ``error``...), busy/idle left out; each a
            dict with ``msg_type``, ``header``, ``parent_header``, ``metadata`` and ``content``.
    """

    msg_type: str
    content: dict[str, Any]
    header: dict[str, Any]
    metadata: dict[str, Any]
    outputs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``ok``, ``error`` or ``aborted``."""
        return str(self.content.get("status", ""))

    @property
    def stdout(self) -> str:
        """The text the request printed to stdout."""
        return self._stream("stdout")

    @property
    def stderr(self) -> str:
        """The text the request printed to stderr."""
        return self._stream("stderr")

    def _stream(self, name: str) -> str:
        return "".join(
            message["content"].get("text", "")
            for message in self.outputs
            if message["msg_type"] == "stream" and message["content"].get("name") == name
        )


def decode_frames(frames: Sequence[bytes | memoryview]) -> dict[str, Any]:
    """Decode a message's frames without checking its signature (it is already trusted)."""
    parts = [bytes(frame) for frame in frames]
    split = parts.index(DELIMITER)
    header, parent, metadata, content = (json_loads(part) for part in parts[split + 2 : split + 6])
    return _message_dict(header, parent, metadata, content, parts[split + 6 :])


def _message_dict(
    header: dict[str, Any],
    parent: dict[str, Any],
    metadata: dict[str, Any],
    content: dict[str, Any],
    buffers: Sequence[bytes | memoryview],
) -> dict[str, Any]:
    return {
        "header": header,
        "parent_header": parent,
        "metadata": metadata,
        "content": content,
        "buffers": list(buffers),
        "msg_id": header.get("msg_id"),
        "msg_type": header.get("msg_type"),
    }


_NO_REPLY: dict[str, Any] = {"msg_type": "", "content": {}, "header": {}, "metadata": {}}


class _Waiter:
    __slots__ = ("idle", "outputs", "reply")

    def __init__(self) -> None:
        self.reply: Pending[dict[str, Any]] = Pending()
        self.idle: Pending[None] = Pending()
        self.outputs: list[dict[str, Any]] = []


class KernelClient:
    """Makes requests of one kernel and waits for their replies, from any event loop."""

    def __init__(self, codec: MessageCodec, *, session: str | None = None) -> None:
        self._codec = codec
        self._factory = MessageFactory(session, username="async-kernel-client")
        self._waiters: dict[str, _Waiter] = {}
        self._lock = threading.Lock()
        self.on_output: Callable[[dict[str, Any]], object] | None = None
        """Called with each iopub message of a request as it arrives, from the thread that
        received it (output before the reply: a cell that has started, a widget update)."""
        self.timeout: float | None = DEFAULT_TIMEOUT
        """Seconds a request waits for its reply and output; None waits for ever. For one
        request, wrap it in ``anyio.fail_after`` instead."""

    @property
    def session(self) -> str:
        """The session id of the client's requests."""
        return self._factory.session

    # --- to be provided by subclasses ---------------------------------------------------------

    def _send(self, channel: Channel, frames: list[bytes | memoryview]) -> None:
        """Send one request's frames on ``channel`` (no routing identity)."""
        raise NotImplementedError

    def _check_usable(self) -> None:
        """Raise `ClientError` if the client cannot make requests now."""

    # --- matching what comes back (any thread) -------------------------------------------------

    def _receive_message(self, channel: Channel, message: dict[str, Any]) -> None:
        parent_id = message["parent_header"].get("msg_id")
        with self._lock:
            waiter = self._waiters.get(parent_id)
        if waiter is None:
            return
        if channel is not Channel.iopub:
            if not waiter.reply.done():
                waiter.reply.set_result(message)
            return
        if message["msg_type"] == "status":
            if message["content"].get("execution_state") == "idle" and not waiter.idle.done():
                waiter.idle.set_result(None)
            return
        waiter.outputs.append(message)
        if self.on_output is not None:
            self.on_output(message)

    # --- requests ------------------------------------------------------------------------------

    async def request(
        self,
        msg_type: str,
        content: dict[str, Any],
        *,
        channel: Channel | str = Channel.shell,
        metadata: dict[str, Any] | None = None,
        subshell_id: str | None = None,
        wait_for_output: bool = True,
        expect_reply: bool = True,
    ) -> KernelReply:
        """Send a request and wait for its reply, and with ``wait_for_output`` for its output.

        A message without a reply (``comm_msg``) takes ``expect_reply=False``: only its output,
        up to the kernel's ``status: idle`` for it, is waited for.

        Raises:
            ClientError: the client is closed, or no reply came within `timeout` seconds.
        """
        return await self._request(
            msg_type,
            content,
            channel,
            metadata,
            subshell_id,
            wait_for_output,
            self.timeout,
            expect_reply=expect_reply,
        )

    async def _request(
        self,
        msg_type: str,
        content: dict[str, Any],
        channel: Channel | str,
        metadata: dict[str, Any] | None,
        subshell_id: str | None,
        wait_for_output: bool,
        limit: float | None,
        *,
        expect_reply: bool = True,
    ) -> KernelReply:
        self._check_usable()
        header = self._factory.header(msg_type, subshell_id)
        frames = self._codec.serialize(header, None, content, metadata)
        waiter = _Waiter()
        msg_id: str = header["msg_id"]
        with self._lock:
            self._waiters[msg_id] = waiter
        try:
            self._send(Channel(channel), frames)
            try:
                with anyio.fail_after(limit):
                    reply: dict[str, Any] = _NO_REPLY
                    if expect_reply:
                        reply = await waiter.reply
                    if wait_for_output or not expect_reply:
                        await waiter.idle
            except TimeoutError:
                raise ClientError(
                    f"no {'reply' if not waiter.reply.done() else 'end of output'} to "
                    f"{msg_type} within {limit} s"
                ) from None
        finally:
            with self._lock:
                self._waiters.pop(msg_id, None)
        return KernelReply(
            reply["msg_type"], reply["content"], reply["header"], reply["metadata"], waiter.outputs
        )

    async def kernel_info(self) -> KernelReply:
        """Ask for the kernel's identity, language and features."""
        return await self.request("kernel_info_request", {})

    async def execute(
        self,
        code: str,
        *,
        silent: bool = False,
        store_history: bool = True,
        user_expressions: dict[str, str] | None = None,
        stop_on_error: bool = True,
        tags: Sequence[str] = (),
        subshell_id: str | None = None,
    ) -> KernelReply:
        """Run ``code`` and return its reply and output.

        ``user_expressions`` are evaluated after the code; their values come back in the
        reply's ``user_expressions``. ``tags`` are sent as the cell's tags (cell directives).
        """
        content = {
            "code": code,
            "silent": silent,
            "store_history": store_history,
            "user_expressions": dict(user_expressions or {}),
            "allow_stdin": False,
            "stop_on_error": stop_on_error,
        }
        metadata = {"tags": list(tags)} if tags else None
        return await self.request(
            "execute_request",
            content,
            metadata=metadata,
            subshell_id=subshell_id,
        )

    async def complete(self, code: str, cursor_pos: int | None = None) -> KernelReply:
        """Ask for completions at ``cursor_pos`` (default: the end of ``code``)."""
        position = len(code) if cursor_pos is None else cursor_pos
        content = {"code": code, "cursor_pos": position}
        return await self.request("complete_request", content)

    async def inspect(
        self,
        code: str,
        cursor_pos: int | None = None,
        *,
        detail_level: int = 0,
    ) -> KernelReply:
        """Ask what the name at ``cursor_pos`` (default: the end of ``code``) is."""
        position = len(code) if cursor_pos is None else cursor_pos
        content = {"code": code, "cursor_pos": position, "detail_level": detail_level}
        return await self.request("inspect_request", content)

    async def comm_msg(
        self, comm_id: str, data: dict[str, Any], *, subshell_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Send a comm message, as a frontend's widget does, and wait until it was handled.

        Returns:
            The iopub messages the kernel sent while handling it (widget state updates...).
        """
        done = await self.request(
            "comm_msg",
            {"comm_id": comm_id, "data": data},
            subshell_id=subshell_id,
            expect_reply=False,
        )
        return done.outputs

    async def interrupt(self) -> KernelReply | None:
        """Interrupt the running cells (an ``interrupt_request`` on the control channel)."""
        return await self.request("interrupt_request", {}, channel=Channel.control)

    async def shutdown(self, *, restart: bool = False) -> KernelReply:
        """Ask the kernel to shut down (on the control channel)."""
        return await self.request(
            "shutdown_request",
            {"restart": restart},
            channel=Channel.control,
            wait_for_output=False,
        )
