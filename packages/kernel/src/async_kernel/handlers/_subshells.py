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
from typing import TYPE_CHECKING, Any

import anyio
from IPython.core.completer import IPCompleter

from async_caller import Caller, CallerStoppedError, wait

from ..runtime._error_fence import ErrorFence
from ..shell._history import KernelHistoryManager, end_history

if TYPE_CHECKING:
    from async_caller import Pending

    from .._kernel import Kernel
    from ..messaging._message import Message
    from ..shell._shell import KernelShell

__all__ = [
    "MAX_SUBSHELLS",
    "LayeredNamespace",
    "Subshell",
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

_NAMES_COPIED_FROM_MAIN = ("__name__", "__builtin__", "__builtins__")
"""Names Python reads from a namespace without falling back (class bodies read ``__name__``)."""


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


class LayeredNamespace(dict[str, Any]):
    """A subshell's namespace: names assigned here stay here; other names come from ``base``.

    Python's ``exec`` accepts a dict subclass as globals and looks names up with
    ``__getitem__``, which falls back to ``__missing__``; functions and classes defined in
    the subshell keep this dict as their globals and see the same layering.
    """

    __slots__ = ("base",)

    def __init__(self, base: dict[str, Any]) -> None:
        super().__init__({name: base[name] for name in _NAMES_COPIED_FROM_MAIN if name in base})
        self.base = base

    def __missing__(self, key: str) -> Any:
        return self.base[key]

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.base

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key`` here or in the main namespace, else ``default``."""
        try:
            return self[key]
        except KeyError:
            return default


class Subshell:
    """One subshell: its Caller (thread and event loop), namespace and per-shell state."""

    def __init__(self, subshell_id: str, caller: Caller, shell: KernelShell) -> None:
        self.subshell_id = subshell_id
        self.caller = caller
        self.execution_count = 1
        self.deleted = False
        """Set when deletion starts: queued cells are then aborted instead of run."""
        self.errors = ErrorFence()
        """What this subshell's last failed cell aborts (stop_on_error)."""
        self.in_flight: set[Pending[Any]] = set()
        """Handler calls submitted to this subshell's Caller and not finished yet."""
        self._shell = shell
        self._layered = LayeredNamespace(shell.main_namespace)
        self.namespace: dict[str, Any] = self._layered
        self._history: KernelHistoryManager | None = None
        self._completer: IPCompleter | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Subshell {self.subshell_id}>"

    @property
    def shared(self) -> bool:
        """Whether this subshell uses the main namespace itself instead of its own layer."""
        return self.namespace is not self._layered

    def share_main_namespace(self, shared: bool) -> None:
        """Use the main namespace itself (``True``) or this subshell's own layer (``False``)."""
        self.namespace = self._shell.main_namespace if shared else self._layered
        if self._completer is not None:
            self._completer.namespace = self.namespace

    @property
    def history_manager(self) -> KernelHistoryManager:
        """This subshell's history: a session of its own in IPython's history database.

        Created on first use, so subshells that never run a cell (JupyterLab makes one per
        comm target) cost no database session and no saving thread.
        """
        with self._lock:
            if self._history is None:
                shell = self._shell
                history = KernelHistoryManager(shell=shell, parent=shell)
                self._layered.update(
                    _ih=history.input_hist_parsed,
                    In=history.input_hist_parsed,
                    _oh=history.output_hist,
                    Out=history.output_hist,
                    _dh=history.dir_hist,
                )
                self._history = history
            return self._history

    @property
    def completer(self) -> IPCompleter:
        """A completer over this subshell's names and the main shell's (created on first use)."""
        with self._lock:
            if self._completer is None:
                shell = self._shell
                main = shell.main_completer
                completer = IPCompleter(
                    shell=shell,
                    namespace=self.namespace,
                    global_namespace=shell.main_namespace,
                    parent=shell,
                )
                completer.custom_completers = main.custom_completers
                self._completer = completer
            return self._completer

    def close(self) -> None:
        """End the history session and release its database connection (any thread)."""
        with self._lock:
            history, self._history = self._history, None
        if history is not None:
            end_history(history)
            history.db.close()


class Subshells:
    """The kernel's subshells by id; safe to use from any thread."""

    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel
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
        kernel = self._kernel
        subshell_id = str(uuid.uuid4())
        with self._lock:
            if len(self._by_id) + self._starting >= MAX_SUBSHELLS:
                raise TooManySubshellsError(MAX_SUBSHELLS)
            self._starting += 1
        try:
            caller = Caller.start_new(backend=kernel.backend, name=f"Subshell-{subshell_id[:8]}")
            subshell = Subshell(subshell_id, caller, kernel.shell)
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
        self._kernel.interrupts.interrupt(
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
            self._kernel.reply_error(msg, type(exc).__name__, str(exc))
            return
        reply = {"status": "ok", "subshell_id": subshell.subshell_id}
        self._kernel.reply(msg, "create_subshell_reply", reply)

    async def delete_subshell_request(self, msg: Message) -> None:
        """Delete the subshell named in the request (a worker thread's own event loop)."""
        subshell_id = msg.content.get("subshell_id")
        if not isinstance(subshell_id, str):
            raise TypeError("delete_subshell_request content.subshell_id must be a string")
        try:
            await self.delete(subshell_id)
        except UnknownSubshellError as exc:
            self._kernel.reply_error(msg, "UnknownSubshellError", str(exc))
            return
        self._kernel.reply(msg, "delete_subshell_reply", {"status": "ok"})

    def list_subshell_request(self, msg: Message) -> None:
        """Reply with the ids of the subshells, oldest first (IO thread)."""
        self._kernel.reply(msg, "list_subshell_reply", {"status": "ok", "subshell_id": self.ids()})

    def stop_all(self) -> None:
        """Stop every subshell without waiting for blocked ones (kernel shutdown, any thread)."""
        with self._lock:
            subshells = list(self._by_id.values())
            self._by_id.clear()
        for subshell in subshells:
            subshell.deleted = True
        if subshells:
            ids = {subshell.subshell_id for subshell in subshells}
            self._kernel.interrupts.interrupt(lambda cell: cell.state.request.subshell_id in ids)
        for subshell in subshells:
            with contextlib.suppress(CallerStoppedError):
                subshell.caller.call_direct(subshell.caller.stop)
        for subshell in subshells:
            subshell.caller.thread.join(timeout=DELETE_GRACE_SECONDS)
            subshell.close()
