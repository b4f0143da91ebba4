"""Handling ``execute_request``: running a cell in the IPython shell and replying.

Runs in the event loop of the shell's Caller (queue and task modes) or of a worker thread
(``# thread`` cells). The cell runs inside a cancel scope that an interrupt can cancel from
any thread while the cell awaits; see ``_interrupts`` for blocking cells.
"""

from __future__ import annotations

import sys
import time
import weakref
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio

from async_caller import Caller
from async_caller import UnknownBackendError as UnknownCallerBackendError

from .._exceptions import KernelError
from ..runtime import _own_loops
from ..runtime._interrupts import CellState, current_cell
from ..shell._directives import NO_DIRECTIVES, CellDirectives, parse_directives
from ..shell._subshell import current_subshell

if TYPE_CHECKING:
    from ..messaging._message import Message
    from ..runtime._interrupts import RunningCell
    from ..shell._shell import KernelShell
    from ..shell._subshell import Subshell
    from ._protocols import CellInterrupts, NamedWorkers, RequestArrivals, Sender, Timers

__all__ = ["ErrorFence", "ExecuteHandler", "client_date"]


class ExecuteHandler:
    """Runs cells for the main shell and every subshell."""

    def __init__(
        self,
        sender: Sender,
        shell: KernelShell,
        interrupts: CellInterrupts,
        arrivals: RequestArrivals,
        timers: Timers,
        workers: NamedWorkers,
    ) -> None:
        self._sender = sender
        self._shell = shell
        self._interrupts = interrupts
        self._arrivals = arrivals
        self._timers = timers
        self._workers = workers
        self.errors = ErrorFence()
        """What the main shell's last failed cell aborts (stop_on_error)."""
        self._subshell_errors: weakref.WeakKeyDictionary[Subshell, ErrorFence] = (
            weakref.WeakKeyDictionary()
        )
        """Each subshell's own, kept as long as the subshell."""

    async def execute_request(self, msg: Message) -> None:
        """Run the cell in ``msg`` and send ``execute_reply``."""
        sender = self._sender
        shell = self._shell
        content = msg.content
        code = content.get("code", "")
        if not isinstance(code, str):
            raise TypeError("execute_request content.code must be a string")
        silent = bool(content.get("silent", False))
        store_history = bool(content.get("store_history", not silent))
        subshell = current_subshell.get()
        errors = self.errors if subshell is None else self._fence_of(subshell)
        if errors.aborts(msg) or (subshell is not None and subshell.deleted):
            # No execution_count: JupyterLab would show it as the prompt of a cell that never ran.
            sender.reply(msg, "execute_reply", {"status": "aborted"}, {"status": "aborted"})
            return
        started = time.monotonic()
        count = shell.execution_count
        state = CellState(msg, count, cancelled_exc_class=anyio.get_cancelled_exc_class())
        directives, directive_error = self._directives(msg)
        state.timeout = directives.timeout
        state.queued = (
            directives.run_mode in (None, "queue") and not silent and not directives.named_thread
        )
        token = current_cell.set(state)
        if directive_error is not None:
            coroutine = self._report(directive_error)
        else:
            coroutine = self._run_cell(code, store_history=store_history, silent=silent, msg=msg)
            if directives.timeout is not None:
                self._timers.call_later(directives.timeout, lambda: self._time_out(state))
        try:
            with anyio.CancelScope() as scope:
                caller = Caller.get_current()
                # Registered before execute_input goes out: a client that interrupts as soon
                # as it sees the cell start must reach it.
                with self._interrupts.running(
                    state,
                    coroutine,
                    lambda: caller.call_direct(scope.cancel),
                    lambda: scope.cancel_called,
                ):
                    if not silent:
                        sender.publish(
                            "execute_input", {"code": code, "execution_count": count}, msg
                        )
                    await coroutine
            if scope.cancelled_caught and state.error is None:
                state.interrupted = True
                shell._showtraceback(KeyboardInterrupt, KeyboardInterrupt(), [])
        except KeyboardInterrupt:
            # Raised by an interrupt between IPython's own handlers (outside the user's code).
            if state.error is None:
                state.interrupted = True
                shell._showtraceback(KeyboardInterrupt, KeyboardInterrupt(), [])
        finally:
            coroutine.close()  # never started if the interrupt came first
            if _own_loops.open_sections:  # the cell left its own loop marked running
                _own_loops.close_sections_left_open()
            current_cell.reset(token)
        if state.error is not None:
            hint = _own_loops.runner_error_hint(state.error["ename"], state.error["evalue"])
            if hint is not None:
                sys.stderr.write(hint)
        sender.flush_streams()
        payload = state.payload
        reply: dict[str, Any]
        if state.error is None:
            expressions = content.get("user_expressions") or {}
            reply = {
                "status": "ok",
                "execution_count": count,
                "user_expressions": shell.user_expressions(expressions) if expressions else {},
                "payload": payload,
            }
        else:
            reply = {
                "status": "error",
                "execution_count": count,
                **state.error,
                "user_expressions": {},
                "payload": payload,
            }
            stop_on_error = directives.stop_on_error
            if stop_on_error is None:
                stop_on_error = bool(content.get("stop_on_error", True))
            if stop_on_error and not directives.raises_exception:
                # Abort what the client sent before the failure, even requests the IO
                # thread had not read yet (a busy machine): "Run All" sends every cell at once.
                since = msg.arrived or started
                errors.close(msg, since, await self._arrivals.received_so_far())
        if state.interrupted and shell.terminating:
            # SIGTERM: the kernel's exit answers the cell, as with ipykernel (clients such as
            # nbclient then report a dead kernel); its error above says why.
            return
        sender.reply(msg, "execute_reply", reply, {"status": reply["status"]})
        if shell.exit_now:
            shell.exit_now = False

    def _directives(self, msg: Message) -> tuple[CellDirectives, Exception | None]:
        """The cell's directives, or the mistake in them that becomes the cell's error."""
        code, metadata = msg.content.get("code"), msg.metadata
        # Inline, not a call: a plain cell (most) never enters the directives module (hot path).
        if not metadata.get("tags") and not (isinstance(code, str) and code.lstrip()[:1] == "#"):
            return NO_DIRECTIVES, None
        try:
            directives = parse_directives(msg)
            if directives.named_thread:
                # The dispatcher queued the cell in that worker; this only surfaces its error.
                self._workers.get(directives.thread_name, directives.thread_backend)
        except (KernelError, UnknownCallerBackendError) as exc:
            return NO_DIRECTIVES, exc
        return directives, None

    def _time_out(self, state: CellState) -> None:
        """Interrupt the cell of ``state`` if it still runs: its time is up (transport thread)."""

        def this_cell(cell: RunningCell) -> bool:
            if cell.state is not state:
                return False
            state.timed_out = True
            return True

        self._interrupts.interrupt(this_cell)

    async def _report(self, error: Exception) -> None:
        """Show ``error`` as the cell's error instead of running it."""
        self._shell.showtraceback((type(error), error, error.__traceback__))

    def _fence_of(self, subshell: Subshell) -> ErrorFence:
        fence = self._subshell_errors.get(subshell)
        if fence is None:
            fence = self._subshell_errors[subshell] = ErrorFence()
        return fence

    async def _run_cell(
        self, code: str, *, store_history: bool, silent: bool, msg: Message
    ) -> None:
        shell = self._shell
        try:
            transformed: str = shell.transform_cell(code)
            preprocessing_error = None
        except Exception:  # noqa: BLE001 - IPython reports it as the cell's error
            transformed = code
            preprocessing_error = sys.exc_info()
        result = None
        try:
            result = await shell.run_cell_async(
                code,
                store_history=store_history,
                silent=silent,
                transformed_cell=transformed,
                preprocessing_exc_tuple=preprocessing_error,
                cell_id=msg.metadata.get("cellId"),
            )
        finally:
            # IPython fires these in run_cell, not run_cell_async: matplotlib-inline's
            # post_execute hook is what shows a cell's figures.
            shell.events.trigger("post_execute")
            if not silent:
                shell.events.trigger("post_run_cell", result)


# --- stop_on_error ----------------------------------------------------------------------------
#
# stop_on_error for one shell: which execute requests a failed cell aborts.
#
# Two rules, for the main shell or one subshell:
#
# - **By arrival.** Every request the kernel had received when the cell failed (the failing cell
#   first has the IO thread read what is waiting, then takes the dispatcher's count).
# - **By the client's own clock.** A request that arrives later, from the same client session,
#   whose header ``date`` is earlier than the failing request's ``date`` plus the time from its
#   arrival to the failure. Its client made it before it could have seen the error, so it
#   would have waited behind the failing cell. JupyterLab's "Run All" makes every cell's request at once,
#   and jupyter_server can pass some of them on after a quick failure; they must not run.
#   Only dates from the same client are compared, never with the kernel's clock, so clocks
#   that differ between machines do not matter. The time counts from when the failing
#   request reached the kernel, not from when its cell started: Run All's failing cell waits
#   behind the ones before it, and its client cannot see the error before the kernel sends
#   it, so a request dated within that span was made blind to it (a queued cell in ipykernel).


def client_date(message: Message) -> datetime | None:
    """When the client made ``message`` (its header ``date``), or None if it has no usable one."""
    date = message.header.get("date")
    if isinstance(date, datetime):
        parsed = date
    elif isinstance(date, str):
        try:
            parsed = datetime.fromisoformat(date)
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class ErrorFence:
    """What the last failure of one shell aborts (shell thread of that shell)."""

    __slots__ = ("_made_before", "_session", "abort_up_to")

    def __init__(self) -> None:
        self.abort_up_to = -1
        """Requests that arrived up to this number are aborted."""
        self._session: object = None
        self._made_before: datetime | None = None

    def aborts(self, message: Message) -> bool:
        """Whether a failure before ``message`` stops it from running."""
        if message.seq <= self.abort_up_to:
            return True
        if self._made_before is None or message.header.get("session") != self._session:
            return False
        made = client_date(message)
        if made is None:
            return False
        if made < self._made_before:
            return True
        # A client's requests reach the kernel in the order it made them: from here on they
        # were all made later. Forgetting the date keeps a clock set back later from mattering.
        self._session, self._made_before = None, None
        return False

    def close(self, failed: Message, since: float, last_seq: int) -> None:
        """Record a failure of ``failed``, which reached the kernel at ``since`` (monotonic).

        ``last_seq`` is the number of the last request received when it failed.
        """
        self.abort_up_to = last_seq
        made = client_date(failed)
        if made is None:
            self._session, self._made_before = None, None
            return
        self._session = failed.header.get("session")
        self._made_before = made + timedelta(seconds=time.monotonic() - since)
