"""One subshell's own state: its namespace layered over the main shell's, history and completer.

A subshell (JEP 91) has its own thread and event loop (a Caller), execution count and
namespace: reads fall through to the main namespace, assignments stay in the subshell, so a
console attached to a busy notebook can watch its variables without disturbing them.
``%subshell --shared`` switches a subshell to the main namespace itself.

All shells share the kernel's one IPython shell object; what differs per shell is read
through :data:`current_subshell`, which the dispatcher sets for each request.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from IPython.core.completer import IPCompleter

from ._history import KernelHistoryManager, end_history

if TYPE_CHECKING:
    from async_caller import Caller, Pending

    from ._shell import KernelShell

__all__ = ["LayeredNamespace", "Subshell", "current_subshell"]

_NAMES_COPIED_FROM_MAIN = ("__name__", "__builtin__", "__builtins__")
"""Names Python reads from a namespace without falling back (class bodies read ``__name__``)."""


current_subshell: ContextVar[Subshell | None] = ContextVar("async_kernel_subshell", default=None)
"""The subshell whose namespace the current code uses; None for the main shell."""


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
