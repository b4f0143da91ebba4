"""The callable interface: a kernel driven by function calls, with no sockets and no threads.

This is how a host that is not a Jupyter client over ZeroMQ runs the kernel: JupyterLite's
web worker calling into Pyodide, or a test. The host passes each message to
:meth:`CallableKernel.receive` and gets the kernel's replies and iopub messages through the
``on_message`` callback it registered; ``input()`` asks the ``on_input_request`` callback, if
the host gave one.

Messages are dicts shaped as JupyterLite's kernel messages: ``channel`` (``"shell"``,
``"control"`` or ``"stdin"`` in; ``"shell"``, ``"control"``, ``"iopub"`` out), ``header``,
``parent_header``, ``metadata``, ``content`` and optional ``buffers`` (bytes-like). A JSON
string or bytes of the same (without buffers) is accepted too. Outgoing dicts also carry
``msg_id`` and ``msg_type``; their buffers are memoryviews.

Inside, messages still travel as the Jupyter wire frames (unsigned: no key, since nothing
leaves the process), so the kernel core has one path for every transport; the transport
converts at the boundary.

Everything runs in the thread and event loop that run the kernel: call ``receive`` there.
Callers fall back to tasks of that loop (``async_caller.threads_available``), so subshells,
control and ``thread``-mode requests all share it; a cell that blocks holds up everything,
and an interrupt can only cancel a cell that awaits.
"""

from __future__ import annotations

import asyncio
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

from .messaging import _json
from .messaging._codec import DELIMITER, check_header
from .messaging._connection import ConnectionInfo
from .messaging._errors import InvalidMessageError
from .messaging._message import PROTOCOL_VERSION, Channel
from .runtime._task_interrupts import TaskInterruptController

if TYPE_CHECKING:
    from collections.abc import Sequence

    from anyio.abc import TaskStatus

    from ._kernel import Kernel
    from .messaging._transport import FramesHandler

__all__ = ["CallableKernel", "CallableTransport", "InputHandler", "MessageHandler"]

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


def message_to_frames(message: Mapping[str, Any] | str | bytes) -> tuple[Channel, list[bytes]]:
    """Turn a host's message into the channel and unsigned wire frames it stands for.

    Raises:
        InvalidMessageError: not a message (see `CallableTransport.receive`).
    """
    if isinstance(message, str | bytes):
        try:
            message = _json.loads(message if isinstance(message, bytes) else message.encode())
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
    try:
        parts = [
            _json.dumps(message.get(part) if part == "header" else message.get(part) or {})
            for part in ("header", "parent_header", "metadata", "content")
        ]
    except (TypeError, ValueError) as exc:
        raise InvalidMessageError(f"the message cannot be encoded as JSON: {exc}") from exc
    header = message.get("header")
    if not isinstance(header, Mapping):
        raise InvalidMessageError(f"message header must be a dict, got {type(header).__name__}")
    check_header(dict(header))
    buffers = message.get("buffers") or []
    if not isinstance(buffers, list | tuple) or not all(
        isinstance(buffer, bytes | bytearray | memoryview) for buffer in buffers
    ):
        raise InvalidMessageError("message buffers must be a list of bytes-like objects")
    raw_buffers = [bytes(buffer) for buffer in buffers]
    return channel, [DELIMITER, b"", *parts, *raw_buffers]


def frames_to_message(channel: Channel, frames: Sequence[bytes | memoryview]) -> dict[str, Any]:
    """Turn the wire frames the kernel sends into the dict a host receives."""
    split = next(index for index, frame in enumerate(frames) if bytes(frame) == DELIMITER)
    header, parent_header, metadata, content = (
        _json.loads(bytes(frame)) for frame in frames[split + 2 : split + 6]
    )
    return {
        "channel": str(channel),
        "header": header,
        "parent_header": parent_header,
        "metadata": metadata,
        "content": content,
        "buffers": [memoryview(frame) for frame in frames[split + 6 :]],
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


class CallableKernel:
    """A kernel served through function calls: for JupyterLite (Pyodide) and other hosts.

    Create it in the thread that will run it, then run :meth:`serve` in a task group (or
    ``await`` :meth:`start` on asyncio, as in Pyodide) and pass each message to
    :meth:`receive`. Replies and iopub messages go to ``on_message``, as they are made.

    Args:
        on_message: Called with each message the kernel sends (see the module docstring for
            the format), in the kernel's loop; must not block. An exception it raises is
            logged and the message dropped.
        on_input_request: Answers ``input()`` and ``getpass()``: called with the
            ``input_request`` message, it returns the text (or a whole ``input_reply``
            message). It must block until the user answers (in a browser: a synchronous
            request, which needs cross-origin isolation). Without it, ``input()`` raises
            ``StdinNotImplementedError``.
        backend: ``"asyncio"`` (Pyodide) or ``"trio"``: the loop the kernel runs on.

    Interrupts cancel cells that await; the kernel installs no signal handlers (the process
    belongs to the host). Where threads exist (CPython), subshells and ``thread``-mode
    requests still get threads of their own; in Pyodide they share the kernel's loop.
    """

    def __init__(
        self,
        on_message: MessageHandler,
        *,
        on_input_request: InputHandler | None = None,
        backend: str = "asyncio",
    ) -> None:
        from ._kernel import Kernel  # keeps importing this module cheap

        self._ready: Callable[[], object] = _nothing
        self._task: asyncio.Task[None]
        self._transport: CallableTransport | None = None

        def make_transport(on_frames: FramesHandler) -> CallableTransport:
            self._transport = CallableTransport(
                on_frames, on_message, on_input_request, on_start=lambda: self._ready()
            )
            return self._transport

        self.kernel: Kernel = Kernel(
            ConnectionInfo(),
            backend=backend,
            transport=make_transport,
            interrupts=TaskInterruptController(),  # the host owns the process's signals
        )
        """The kernel itself (its shell is ``kernel.shell`` once serving)."""

    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run the kernel until a ``shutdown_request`` (in the loop that will run it).

        With ``await task_group.start(kernel.serve)``, returns once the kernel takes messages.
        """
        self._ready = task_status.started
        await self.kernel.run()

    async def start(self) -> None:
        """Serve in a new asyncio task; return once the kernel takes messages (asyncio only).

        The host's loop keeps the task running: in Pyodide, the browser's event loop.
        """
        ready = asyncio.Event()
        loop = asyncio.get_running_loop()

        class _Started:
            def started(self, value: object = None) -> None:
                del value
                ready.set()

        self._task = loop.create_task(self.serve(task_status=_Started()))
        waiter = loop.create_task(ready.wait())
        await asyncio.wait({self._task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if self._task.done():
            self._task.result()  # raises what stopped the kernel from starting
            msg = "the kernel stopped before it was ready"
            raise RuntimeError(msg)

    async def wait_stopped(self) -> None:
        """Wait until the kernel served by :meth:`start` has shut down (asyncio only)."""
        await self._task

    def receive(self, message: Mapping[str, Any] | str | bytes) -> None:
        """Hand one message to the kernel (in the kernel's loop, once it serves).

        Short requests (kernel_info, comm_open...) are answered before this returns; others
        run as tasks of the loop.

        Raises:
            InvalidMessageError: ``message`` is not a message, or names no channel the kernel
                reads (``shell``, ``control``, ``stdin``).
            RuntimeError: the kernel is not serving yet.
        """
        if self._transport is None or not self._transport.serving:
            msg = "the kernel is not serving yet: await start() or serve() first"
            raise RuntimeError(msg)
        self._transport.receive(message)


def _nothing() -> None:
    return None
