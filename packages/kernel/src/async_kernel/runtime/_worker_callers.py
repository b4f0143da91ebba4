"""Named worker callers: the threads ``# thread name=...`` cells and ``%thread`` run in.

Each name gets one Caller in a thread of its own: a child of the main shell's Caller, started on
first use with the backend asked for (the kernel's by default) and kept until the kernel stops,
so a cell can come back to the same thread and its state. Cells sent to one name run one after
another, as in the main shell. Any thread may ask for a worker: the dispatcher does from the IO
thread, magics from a cell's thread.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from async_caller import CallerExistsError

from .._exceptions import KernelError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from async_caller import Caller

__all__ = ["WorkerCallerError", "WorkerCallers"]


class WorkerCallerError(KernelError, ValueError):
    """A named worker exists with another backend than the one asked for."""

    def _render_traceback_(self) -> list[str]:
        """IPython hook: the lines a cell's error shows instead of a traceback."""
        return [f"{type(self).__name__}: {self}"]


class WorkerCallers:
    """The kernel's named worker callers, children of the main shell's Caller."""

    def __init__(self, default_backend: str, parent: Callable[[], Caller]) -> None:
        self.default_backend = default_backend
        self._parent = parent
        self._names: set[str] = set()
        self._lock = threading.Lock()

    def default_name(self, backend: str | None) -> str:
        """The name of the worker used when only a backend is given."""
        return f"worker-{backend or self.default_backend}"

    def get(self, name: str | None = None, backend: str | None = None) -> Caller:
        """Return the worker called ``name``, starting it on ``backend`` if it is not running.

        Raises:
            WorkerCallerError: the worker runs on another backend than ``backend``.
            UnknownBackendError: ``backend`` is not installed (from async_caller).
        """
        name = name or self.default_name(backend)
        try:
            caller = self._parent().get(name=name, backend=backend or None)
        except CallerExistsError:
            running = self.callers.get(name)
            has = running.backend if running is not None else "another backend"
            msg = (
                f"the worker thread {name!r} runs on {has}, not {backend}; "
                f"leave out backend= or pick another name"
            )
            raise WorkerCallerError(msg) from None
        with self._lock:
            self._names.add(name)
        return caller

    @property
    def callers(self) -> Mapping[str, Caller]:
        """The running workers by name (a copy)."""
        with self._lock:
            names = set(self._names)
        return {
            child.name: child
            for child in self._parent().children
            if child.name in names and not child.stopping.done()
        }

    def stop_all(self) -> None:
        """Stop every worker (kernel shutdown); their running cells are cancelled."""
        for caller in self.callers.values():
            caller.stop()
