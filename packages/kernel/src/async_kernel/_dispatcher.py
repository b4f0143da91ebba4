"""Routing each request to its handler in the right thread, by run mode.

Runs in the IO thread. A request's key is (channel, msg_type, subshell_id); the run mode for
the key decides where the handler runs:

- ``direct``: right here in the IO thread (quick, non-blocking handlers such as kernel_info);
- ``queue``: in the shell's (or control's) event loop, one after another per key;
- ``task``: in that event loop as a new concurrent task;
- ``thread``: in a worker thread.

Shell requests that name a subshell run in that subshell's Caller (its own thread), with
:data:`current_subshell` set so the shell uses the subshell's namespace. Comm messages are
the exception: they run in the shell whose code created the comm (the main shell for comms the
frontend opens), whichever subshell JupyterLab sends them through; see ``_comm``.

Every request is wrapped in iopub ``status`` busy/idle with the request as parent, and a
handler that raises becomes an error reply: a failing handler never takes the kernel down.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import itertools
import logging
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import sniffio

from async_caller import Caller, CallerStoppedError

from ._exceptions import CellDirectiveError
from .handlers._subshells import UnknownSubshellError
from .messaging._errors import InvalidMessageError
from .messaging._message import Channel, reply_type
from .runtime._context import current_request
from .shell._directives import parse_directives
from .shell._subshell import current_subshell

if TYPE_CHECKING:
    from async_caller import Pending

    from .messaging._message import Message
    from .runtime._outbox import Outbox
    from .shell._directives import CellDirectives
    from .shell._subshell import Subshell

__all__ = ["DEFAULT_RUN_MODES", "Dispatcher", "Routes", "RunMode"]

log = logging.getLogger(__name__)

Handler = Callable[["Message"], Awaitable[None] | None]


class RunMode(StrEnum):
    """Where a handler runs; see the module docstring."""

    direct = "direct"
    queue = "queue"
    task = "task"
    thread = "thread"


_BOTH = (Channel.shell, Channel.control)


def _modes(mode: RunMode, channels: tuple[Channel, ...] = _BOTH) -> dict[Channel, RunMode]:
    return dict.fromkeys(channels, mode)


DEFAULT_RUN_MODES: dict[str, dict[Channel, RunMode]] = {
    "kernel_info_request": _modes(RunMode.direct),
    "interrupt_request": _modes(RunMode.direct),
    "execute_request": _modes(RunMode.queue),
    "complete_request": _modes(RunMode.thread),
    "inspect_request": _modes(RunMode.thread),
    "is_complete_request": _modes(RunMode.thread),
    "history_request": _modes(RunMode.thread),
    "comm_open": _modes(RunMode.direct),
    "comm_msg": _modes(RunMode.queue),
    "comm_close": _modes(RunMode.queue),
    "comm_info_request": _modes(RunMode.direct),
    "shutdown_request": _modes(RunMode.direct, (Channel.control,)),
    "debug_request": _modes(RunMode.queue, (Channel.control,)),
    "create_subshell_request": _modes(RunMode.thread, (Channel.control,)),
    "delete_subshell_request": _modes(RunMode.thread, (Channel.control,)),
    "list_subshell_request": _modes(RunMode.direct, (Channel.control,)),
    "usage_request": _modes(RunMode.thread, (Channel.control,)),
}
"""The run mode of each request type on each channel; other pairs are unknown requests."""

_ROUTED_BY_COMM = frozenset({"comm_msg", "comm_close"})
"""Shell messages that run in the comm's own shell rather than the one they name."""


def cell_run_mode(msg: Message) -> tuple[RunMode | None, CellDirectives | None]:
    """Return the run mode an execute_request asks for, with its directives.

    A first-line comment or a cell tag chooses it (see ``shell._directives``); a silent
    execute (a variable inspector, a console's own request) that chooses none runs as a task
    in its shell's loop, so it never waits behind a running cell. Directives that do not parse
    leave the default: the execute handler reports the mistake as the cell's error.
    """
    code, metadata = msg.content.get("code"), msg.metadata
    # Inline, not a call: a plain cell (most) never enters the directives module (hot path).
    if not metadata.get("tags") and not (isinstance(code, str) and code.lstrip()[:1] == "#"):
        return (RunMode.task if msg.content.get("silent") else None), None
    try:
        directives = parse_directives(msg)
    except CellDirectiveError:
        return None, None
    if directives.run_mode is not None:
        return RunMode(directives.run_mode), directives
    if msg.content.get("silent"):
        return RunMode.task, directives
    return None, directives


class Routes(Protocol):
    """Where requests can go: the shells' and control's Callers, subshells, comms' homes."""

    @property
    def main_caller(self) -> Caller:
        """The main shell's Caller (main thread)."""
        ...

    @property
    def control_caller(self) -> Caller:
        """The control channel's Caller (its own thread)."""
        ...

    def subshell(self, subshell_id: str) -> Subshell | None:
        """The subshell with this id, or None."""
        ...

    def comm_home(self, comm_id: object) -> Subshell | None:
        """The subshell that runs comm ``comm_id``'s callbacks; None for the main shell."""
        ...

    def worker(self, name: str | None, backend: str | None) -> Caller:
        """The named worker caller (``# thread name=...``), started on first use."""
        ...


class Dispatcher:
    """Hands each incoming request to its handler in the thread its run mode says."""

    def __init__(
        self,
        outbox: Outbox,
        routes: Routes,
        handlers: dict[str, Handler],
        backend: str,
        on_input_reply: Callable[[Message], object],
    ) -> None:
        """``on_input_reply`` takes what arrives on stdin (the transport's thread)."""
        self._outbox = outbox
        self._codec = outbox.codec
        self._on_input_reply = on_input_reply
        self._routes = routes
        self._backend = backend
        self._handlers = handlers
        self._seq = itertools.count(1)
        self.last_seq = 0
        self._queue_runners: dict[str, Callable[[Message, Subshell | None], Awaitable[None]]] = {}
        self._claim_lock = threading.Lock()
        self.on_main_shell_comm: Callable[[Message], object] | None = None
        """Told of each comm message for the main shell as it arrives (``do_one_iteration``)."""

    def run_now(self, msg: Message) -> bool:
        """Run a dispatched request's (synchronous) handler in the calling thread, if unstarted.

        For ``do_one_iteration``: a cell blocking the main thread lets the comm messages
        queued behind it through. The queue skips the request later. Returns whether it ran.
        """
        handler = self._handlers.get(msg.msg_type)
        if handler is None or inspect.iscoroutinefunction(handler):
            return False
        ran = False

        def run(msg: Message) -> None:
            nonlocal ran
            ran = True
            handler(msg)

        self._run_direct(run, msg, None)
        return ran

    def _claim(self, msg: Message) -> bool:
        """Mark ``msg`` started; False if it already was (run by ``run_now``). Any thread."""
        with self._claim_lock:
            if msg.started:
                return False
            msg.started = True
            return True

    def receive(self, channel: Channel, frames: list[bytes]) -> None:
        """Verify and decode one message's frames, then route it (the transport's thread).

        A message that fails verification is logged and dropped; one whose header was good
        gets an error reply, so its sender is not left waiting.
        """
        try:
            msg = self._codec.deserialize(channel, frames)
        except InvalidMessageError as exc:
            log.warning("rejected a message on %s: %s", channel, exc)
            if exc.request is not None and channel is not Channel.stdin:
                self.reject(exc.request, "InvalidMessage", str(exc))
            return
        if channel is Channel.stdin:
            self._on_input_reply(msg)
        else:
            self.dispatch(msg)

    def dispatch(self, msg: Message) -> None:
        """Route one verified request (IO thread)."""
        msg.seq = self.last_seq = next(self._seq)
        msg.arrived = time.monotonic()
        msg_type = msg.msg_type
        handler = self._handlers.get(msg_type)
        mode = DEFAULT_RUN_MODES.get(msg_type, {}).get(msg.channel)
        if handler is None or mode is None:
            self._run_direct(self._unknown_request, msg, None)
            return
        routes = self._routes
        subshell = None
        if msg.subshell_id is not None:
            subshell = routes.subshell(msg.subshell_id)
            if subshell is None:
                self._run_direct(self._unknown_subshell, msg, None)
                return
        if msg.channel is Channel.control:
            subshell, caller = None, routes.control_caller
        else:
            if msg_type in _ROUTED_BY_COMM:
                subshell = routes.comm_home(msg.content.get("comm_id"))
                if subshell is None and self.on_main_shell_comm is not None:
                    self.on_main_shell_comm(msg)
            caller = routes.main_caller if subshell is None else subshell.caller
        if msg_type == "execute_request":
            cell_mode, directives = cell_run_mode(msg)
            mode = cell_mode or mode
            if directives is not None and directives.named_thread:
                # Queued in the named worker: its cells run in order, in its own loop.
                try:
                    caller = routes.worker(directives.thread_name, directives.thread_backend)
                except Exception:  # noqa: BLE001 - the execute handler reports it as the cell's error
                    log.debug("no worker %r: the cell reports why", directives.thread_name)
                mode = RunMode.queue
        try:
            pending = self._submit(mode, caller, handler, msg, subshell)
        except CallerStoppedError:
            if subshell is None:
                raise
            self._run_direct(self._unknown_subshell, msg, None)  # deleted meanwhile
            return
        if pending is not None and subshell is not None:
            subshell.in_flight.add(pending)
            pending.add_done_callback(functools.partial(self._settled, subshell, msg))

    def _submit(
        self,
        mode: RunMode,
        caller: Caller,
        handler: Handler,
        msg: Message,
        subshell: Subshell | None,
    ) -> Pending[None] | None:
        if mode is RunMode.direct:
            self._run_direct(handler, msg, subshell)
            return None
        if mode is RunMode.queue:
            return caller.queue_call(self._queue_runner(msg.msg_type, handler), msg, subshell)
        if mode is RunMode.task:
            return caller.call_soon(self._run_async, handler, msg, subshell)
        if inspect.iscoroutinefunction(handler):
            # The worker's event loop takes its backend from the submitter, and this (IO)
            # thread runs none: name the kernel's, so `# thread` cells run on trio there too.
            context = contextvars.copy_context()
            context.run(sniffio.current_async_library_cvar.set, self._backend)
            context.run(Caller.to_thread, self._run_async, handler, msg, subshell)
        else:
            Caller.to_thread(self._run_direct, handler, msg, subshell)
        return None

    def _queue_runner(
        self, msg_type: str, handler: Handler
    ) -> Callable[[Message, Subshell | None], Awaitable[None]]:
        """One function per message type: each Caller keeps one FIFO queue per function."""
        runner = self._queue_runners.get(msg_type)
        if runner is None:

            async def run_queued(msg: Message, subshell: Subshell | None) -> None:
                await self._run_async(handler, msg, subshell)

            runner = self._queue_runners[msg_type] = run_queued
        return runner

    def _settled(self, subshell: Subshell, msg: Message, pending: Pending[None]) -> None:
        """A subshell's call finished: answer its request if it was dropped unstarted (any thread)."""
        subshell.in_flight.discard(pending)
        if pending.cancelled() and not msg.started:
            self._run_direct(self._aborted, msg, None)

    # --- runners ----------------------------------------------------------------------------

    def _begin(self, msg: Message, subshell: Subshell | None) -> tuple[Any, Any] | None:
        if not self._claim(msg):
            return None
        tokens = current_request.set(msg), current_subshell.set(subshell)
        self._outbox.publish_status("busy", msg)
        return tokens

    def _end(self, msg: Message, tokens: tuple[Any, Any]) -> None:
        outbox = self._outbox
        outbox.flush_streams()
        outbox.publish_status("idle", msg)
        current_subshell.reset(tokens[1])
        current_request.reset(tokens[0])

    def _run_direct(
        self, handler: Callable[[Message], object], msg: Message, subshell: Subshell | None
    ) -> None:
        tokens = self._begin(msg, subshell)
        if tokens is None:
            return
        try:
            handler(msg)
        except Exception as exc:  # noqa: BLE001 - a failing handler becomes an error reply
            self._handler_failed(msg, exc)
        finally:
            self._end(msg, tokens)

    async def _run_async(self, handler: Handler, msg: Message, subshell: Subshell | None) -> None:
        tokens = self._begin(msg, subshell)
        if tokens is None:
            return
        try:
            result = handler(msg)
            if result is not None:
                await result
        except Exception as exc:  # noqa: BLE001 - a failing handler becomes an error reply
            self._handler_failed(msg, exc)
        finally:
            self._end(msg, tokens)

    # --- errors ----------------------------------------------------------------------------

    def reject(self, msg: Message, ename: str, evalue: str) -> None:
        """Answer a request that could not be decoded with an error reply (IO thread)."""
        tokens = self._begin(msg, None)
        if tokens is None:
            return
        try:
            self._outbox.reply_error(msg, ename, evalue)
        finally:
            self._end(msg, tokens)

    def _handler_failed(self, msg: Message, exc: Exception) -> None:
        log.error("handler for %s failed", msg.msg_type, exc_info=exc)
        self._outbox.reply_error(msg, type(exc).__name__, str(exc), traceback.format_exception(exc))

    def _unknown_request(self, msg: Message) -> None:
        log.warning("unknown message type %r on %s", msg.msg_type, msg.channel)
        evalue = f"this kernel does not handle {msg.msg_type!r} on the {msg.channel} channel"
        self._outbox.reply_error(msg, "UnknownMessageType", evalue)

    def _unknown_subshell(self, msg: Message) -> None:
        log.warning("request for unknown subshell %r", msg.subshell_id)
        self._outbox.reply_error(
            msg, "UnknownSubshellError", str(UnknownSubshellError(msg.subshell_id))
        )

    def _aborted(self, msg: Message) -> None:
        """Answer a request whose subshell was deleted before it could run."""
        msg_type = reply_type(msg.msg_type)
        if msg_type is not None:
            self._outbox.reply(msg, msg_type, {"status": "aborted"}, {"status": "aborted"})
