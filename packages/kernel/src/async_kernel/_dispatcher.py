"""Routing each request to its handler in the right thread, by run mode.

Runs in the IO thread. A request's key is (channel, msg_type, subshell_id); the run mode for
the key decides where the handler runs:

- ``direct``: right here in the IO thread (quick, non-blocking handlers such as kernel_info);
- ``queue``: in the shell's (or control's) event loop, one after another per key;
- ``task``: in that event loop as a new concurrent task;
- ``thread``: in a worker thread.

Every request is wrapped in iopub ``status`` busy/idle with the request as parent, and a
handler that raises becomes an error reply: a failing handler never takes the kernel down.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import traceback
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from async_caller import Caller

from ._context import current_request
from ._message import Channel

if TYPE_CHECKING:
    from ._kernel import Kernel
    from ._message import Message

__all__ = ["DEFAULT_RUN_MODES", "Dispatcher", "RunMode"]

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
}
"""The run mode of each request type on each channel; other pairs are unknown requests."""

CELL_MODE_COMMENTS = {"# task": RunMode.task, "# thread": RunMode.thread}


def cell_run_mode(msg: Message) -> RunMode | None:
    """Return the run mode an execute_request asks for: a first-line comment or a cell tag."""
    code = msg.content.get("code")
    if isinstance(code, str) and code.startswith("# "):
        first_line = code.split("\n", 1)[0].strip()
        if first_line in CELL_MODE_COMMENTS:
            return CELL_MODE_COMMENTS[first_line]
    tags = msg.metadata.get("tags")
    if isinstance(tags, list):
        for tag in tags:
            if tag in ("task", "thread"):
                return RunMode(tag)
    return None


def reply_type(msg_type: str) -> str | None:
    """The reply type for a request type, or None if it is not a request."""
    if msg_type.endswith("_request"):
        return msg_type[: -len("_request")] + "_reply"
    return None


class Dispatcher:
    """Hands each incoming request to its handler in the thread its run mode says."""

    def __init__(self, kernel: Kernel, handlers: dict[str, Handler]) -> None:
        self._kernel = kernel
        self._handlers = handlers
        self._seq = itertools.count(1)
        self.last_seq = 0
        self._queue_runners: dict[
            tuple[Channel, str, str | None], Callable[[Message], Awaitable[None]]
        ] = {}

    def dispatch(self, msg: Message) -> None:
        """Route one verified request (IO thread)."""
        msg.seq = self.last_seq = next(self._seq)
        msg_type = msg.msg_type
        handler = self._handlers.get(msg_type)
        mode = DEFAULT_RUN_MODES.get(msg_type, {}).get(msg.channel)
        if handler is None or mode is None:
            self._run_direct(self._unknown_request, msg)
            return
        if msg.subshell_id is not None:
            self._run_direct(self._unknown_subshell, msg)
            return
        if msg_type == "execute_request":
            mode = cell_run_mode(msg) or mode
        caller = self._kernel.caller_for(msg.channel)
        if mode is RunMode.direct:
            self._run_direct(handler, msg)
        elif mode is RunMode.queue:
            caller.queue_call(self._queue_runner(msg, handler), msg)
        elif mode is RunMode.task:
            caller.call_soon(self._run_async, handler, msg)
        else:
            Caller.to_thread(
                self._run_async if inspect.iscoroutinefunction(handler) else self._run_sync,
                handler,
                msg,
            )

    def _queue_runner(self, msg: Message, handler: Handler) -> Callable[[Message], Awaitable[None]]:
        key = (msg.channel, msg.msg_type, msg.subshell_id)
        runner = self._queue_runners.get(key)
        if runner is None:

            async def run_queued(msg: Message) -> None:
                await self._run_async(handler, msg)

            runner = self._queue_runners[key] = run_queued
        return runner

    # --- runners ----------------------------------------------------------------------------

    def _begin(self, msg: Message) -> object:
        token = current_request.set(msg)
        self._kernel.publish_status("busy", msg)
        return token

    def _end(self, msg: Message, token: Any) -> None:
        kernel = self._kernel
        kernel.flush_streams()
        kernel.publish_status("idle", msg)
        current_request.reset(token)

    def _run_direct(self, handler: Callable[[Message], object], msg: Message) -> None:
        token = self._begin(msg)
        try:
            handler(msg)
        except Exception as exc:  # noqa: BLE001 - a failing handler becomes an error reply
            self._handler_failed(msg, exc)
        finally:
            self._end(msg, token)

    def _run_sync(self, handler: Handler, msg: Message) -> None:
        self._run_direct(handler, msg)

    async def _run_async(self, handler: Handler, msg: Message) -> None:
        token = self._begin(msg)
        try:
            result = handler(msg)
            if result is not None:
                await result
        except Exception as exc:  # noqa: BLE001 - a failing handler becomes an error reply
            self._handler_failed(msg, exc)
        finally:
            self._end(msg, token)

    # --- errors ----------------------------------------------------------------------------

    def _handler_failed(self, msg: Message, exc: Exception) -> None:
        log.error("handler for %s failed", msg.msg_type, exc_info=exc)
        self._reply_error(msg, type(exc).__name__, str(exc), traceback.format_exception(exc))

    def _reply_error(self, msg: Message, ename: str, evalue: str, tb: list[str]) -> None:
        msg_type = reply_type(msg.msg_type)
        if msg_type is None:
            return
        content = {"status": "error", "ename": ename, "evalue": evalue, "traceback": tb}
        self._kernel.reply(msg, msg_type, content, {"status": "error"})

    def _unknown_request(self, msg: Message) -> None:
        log.warning("unknown message type %r on %s", msg.msg_type, msg.channel)
        evalue = f"this kernel does not handle {msg.msg_type!r} on the {msg.channel} channel"
        self._reply_error(msg, "UnknownMessageType", evalue, [])

    def _unknown_subshell(self, msg: Message) -> None:
        log.warning("request for unknown subshell %r", msg.subshell_id)
        self._reply_error(msg, "UnknownSubshell", f"no subshell with id {msg.subshell_id!r}", [])
