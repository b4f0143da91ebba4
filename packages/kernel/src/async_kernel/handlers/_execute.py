"""Handling ``execute_request``: running a cell in the IPython shell and replying.

Runs in the event loop of the shell's Caller (queue and task modes) or of a worker thread
(``# thread`` cells). The cell runs inside a cancel scope that an interrupt can cancel from
any thread while the cell awaits; see ``_interrupts`` for blocking cells.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import anyio

from async_caller import Caller

from ..runtime._cell_state import CellState, current_cell
from ..runtime._error_fence import ErrorFence
from ..shell._subshell import current_subshell

if TYPE_CHECKING:
    from ..messaging._message import Message
    from ..shell._shell import KernelShell
    from ._protocols import CellInterrupts, RequestArrivals, Sender

__all__ = ["ExecuteHandler"]


class ExecuteHandler:
    """Runs cells for the main shell and every subshell."""

    def __init__(
        self,
        sender: Sender,
        shell: KernelShell,
        interrupts: CellInterrupts,
        arrivals: RequestArrivals,
    ) -> None:
        self._sender = sender
        self._shell = shell
        self._interrupts = interrupts
        self._arrivals = arrivals
        self.errors = ErrorFence()
        """What the main shell's last failed cell aborts (stop_on_error); subshells have their own."""

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
        errors = self.errors if subshell is None else subshell.errors
        if errors.aborts(msg) or (subshell is not None and subshell.deleted):
            # No execution_count: JupyterLab would show it as the prompt of a cell that never ran.
            sender.reply(msg, "execute_reply", {"status": "aborted"}, {"status": "aborted"})
            return
        started = time.monotonic()
        count = shell.execution_count
        state = CellState(msg, count, cancelled_exc_class=anyio.get_cancelled_exc_class())
        token = current_cell.set(state)
        coroutine = self._run_cell(code, store_history=store_history, silent=silent, msg=msg)
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
            current_cell.reset(token)
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
            if content.get("stop_on_error", True):
                # Abort what the client sent before the failure, even requests the IO
                # thread had not read yet (a busy machine): "Run All" sends every cell at once.
                errors.close(msg, started, await self._arrivals.received_so_far())
        if state.interrupted and shell.terminating:
            # SIGTERM: the kernel's exit answers the cell, as with ipykernel (clients such as
            # nbclient then report a dead kernel); its error above says why.
            return
        sender.reply(msg, "execute_reply", reply, {"status": reply["status"]})
        if shell.exit_now:
            shell.exit_now = False

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
