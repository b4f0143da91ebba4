"""Subshells (JEP 91): more shells in one kernel, each running its cells in a thread of its own.

A subshell has its own thread and event loop (a Caller), its own execute queue and execution
count, and its own namespace layered over the main shell's: reads fall through to the main
namespace, assignments stay in the subshell. So a console attached to a busy notebook can
watch the notebook's variables without disturbing them, and two subshells never see each
other's names. ``%subshell --shared`` switches a subshell to the main namespace itself.

All shells share the kernel's one IPython shell object. What differs per shell (namespace,
execution count, history, completer) is read through :data:`current_subshell`, which the
dispatcher sets for each request it hands to a handler; see ``KernelShell``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import uuid
from typing import TYPE_CHECKING

import anyio

from async_caller import Caller, CallerStoppedError, wait

from ..shell._subshell import Subshell

if TYPE_CHECKING:
    from ..messaging._message import Message
    from ..shell._shell import KernelShell
    from ._protocols import CellInterrupts, Sender

__all__ = [
    "MAX_SUBSHELLS",
    "Subshells",
    "TooManySubshellsError",
    "UnknownSubshellError",
]

log = logging.getLogger(__name__)

DELETE_GRACE_SECONDS = 2.0
"""How long deleting a subshell waits for its interrupted cells to end before stopping it.

A cell blocked in one long C call (``time.sleep(60)``) can only be stopped once that call
returns, since only the main thread receives signals; its thread ends then, and the delete
reply does not wait for it.
"""

MAX_SUBSHELLS = int(os.environ.get("ASYNC_KERNEL_MAX_SUBSHELLS", "256"))
"""How many subshells may exist at once: each is a thread with its own event loop."""


class TooManySubshellsError(RuntimeError):
    """A create_subshell_request beyond :data:`MAX_SUBSHELLS`."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"this kernel already runs {limit} subshells, its limit: delete one first "
            "(the ASYNC_KERNEL_MAX_SUBSHELLS environment variable of the kernel sets the limit)"
        )


class UnknownSubshellError(LookupError):
    """A request named a subshell that does not exist (never created, or deleted)."""

    def __init__(self, subshell_id: object) -> None:
        super().__init__(f"no subshell with id {subshell_id!r}; list_subshell_request lists them")


class Subshells:
    """The kernel's subshells by id; safe to use from any thread."""

    def __init__(
        self, sender: Sender, shell: KernelShell, interrupts: CellInterrupts, backend: str
    ) -> None:
        self._sender = sender
        self._shell = shell
        self._interrupts = interrupts
        self._backend = backend
        self._by_id: dict[str, Subshell] = {}
        self._starting = 0
        """Subshells being created now, counted against the limit."""
        self._lock = threading.Lock()

    def get(self, subshell_id: str) -> Subshell | None:
        """The subshell with this id, or None."""
        return self._by_id.get(subshell_id)

    def ids(self) -> list[str]:
        """The ids of the subshells, oldest first."""
        with self._lock:
            return list(self._by_id)

    def create(self) -> Subshell:
        """Start a subshell: a new thread running its own event loop.

        Call it from a thread without a Caller (the control channel's ``thread`` mode does),
        so the new Caller is nobody's child and lives until it is deleted.

        Raises:
            TooManySubshellsError: :data:`MAX_SUBSHELLS` subshells exist already.
        """
        subshell_id = str(uuid.uuid4())
        with self._lock:
            if len(self._by_id) + self._starting >= MAX_SUBSHELLS:
                raise TooManySubshellsError(MAX_SUBSHELLS)
            self._starting += 1
        try:
            caller = Caller.start_new(backend=self._backend, name=f"Subshell-{subshell_id[:8]}")
            subshell = Subshell(subshell_id, caller, self._shell)
            with self._lock:
                self._by_id[subshell_id] = subshell
        finally:
            with self._lock:
                self._starting -= 1
        return subshell

    async def delete(self, subshell_id: str) -> None:
        """Delete a subshell: stop its cells, answer its queued requests, end its thread.

        Runs in a worker thread's own event loop. A running cell is interrupted (its reply
        says so) and requests still queued are answered ``aborted``.

        Raises:
            UnknownSubshellError: If there is no such subshell.
        """
        with self._lock:
            subshell = self._by_id.pop(subshell_id, None)
        if subshell is None:
            raise UnknownSubshellError(subshell_id)
        await self._stop(subshell)

    async def _stop(self, subshell: Subshell) -> None:
        subshell.deleted = True
        self._interrupts.interrupt(
            lambda cell: cell.state.request.subshell_id == subshell.subshell_id
        )
        await wait(list(subshell.in_flight), timeout=DELETE_GRACE_SECONDS)
        subshell.caller.stop()
        with anyio.move_on_after(DELETE_GRACE_SECONDS) as waited:
            await subshell.caller.wait_stopped()
        if waited.cancelled_caught:
            log.warning(
                "%r is still blocked in a call; its thread ends when the call returns", subshell
            )
        subshell.close()

    # --- control requests (JEP 91) -----------------------------------------------------------

    def create_subshell_request(self, msg: Message) -> None:
        """Create a subshell and reply with its id (a worker thread without a Caller)."""
        try:
            subshell = self.create()
        except TooManySubshellsError as exc:
            self._sender.reply_error(msg, type(exc).__name__, str(exc))
            return
        reply = {"status": "ok", "subshell_id": subshell.subshell_id}
        self._sender.reply(msg, "create_subshell_reply", reply)

    async def delete_subshell_request(self, msg: Message) -> None:
        """Delete the subshell named in the request (a worker thread's own event loop)."""
        subshell_id = msg.content.get("subshell_id")
        if not isinstance(subshell_id, str):
            raise TypeError("delete_subshell_request content.subshell_id must be a string")
        try:
            await self.delete(subshell_id)
        except UnknownSubshellError as exc:
            self._sender.reply_error(msg, "UnknownSubshellError", str(exc))
            return
        self._sender.reply(msg, "delete_subshell_reply", {"status": "ok"})

    def list_subshell_request(self, msg: Message) -> None:
        """Reply with the ids of the subshells, oldest first (IO thread)."""
        self._sender.reply(msg, "list_subshell_reply", {"status": "ok", "subshell_id": self.ids()})

    def stop_all(self) -> None:
        """Stop every subshell without waiting for blocked ones (kernel shutdown, any thread)."""
        with self._lock:
            subshells = list(self._by_id.values())
            self._by_id.clear()
        for subshell in subshells:
            subshell.deleted = True
        if subshells:
            ids = {subshell.subshell_id for subshell in subshells}
            self._interrupts.interrupt(lambda cell: cell.state.request.subshell_id in ids)
        for subshell in subshells:
            with contextlib.suppress(CallerStoppedError):
                subshell.caller.call_direct(subshell.caller.stop)
        for subshell in subshells:
            subshell.caller.thread.join(timeout=DELETE_GRACE_SECONDS)
            subshell.close()
