"""Named worker callers: the threads ``# thread name=...`` cells and ``%thread`` run in.

Each name gets one Caller in a thread of its own, started on first use with the backend asked
for (the kernel's by default) and kept until the kernel stops, so a cell can come back to the
same thread and its state. Cells sent to one name run one after another, as in the main
shell. Any thread may ask for a worker: the dispatcher does from the IO thread, magics from
a cell's thread.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from async_caller import Caller

from .._exceptions import KernelError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["WorkerCallerError", "WorkerCallers"]


class WorkerCallerError(KernelError, ValueError):
    """A named worker exists with another backend than the one asked for."""

    def _render_traceback_(self) -> list[str]:
        """IPython hook: the lines a cell's error shows instead of a traceback."""
        return [f"{type(self).__name__}: {self}"]


class WorkerCallers:
    """The kernel's named worker callers, by name."""

    def __init__(self, default_backend: str) -> None:
        self.default_backend = default_backend
        self._callers: dict[str, Caller] = {}
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
        with self._lock:
            caller = self._callers.get(name)
            if caller is not None and not caller.stopped:
                if backend is not None and caller.backend != backend:
                    msg = (
                        f"the worker thread {name!r} runs on {caller.backend}, not {backend}; "
                        f"leave out backend= or pick another name"
                    )
                    raise WorkerCallerError(msg)
                return caller
            caller = Caller.start_new(backend=backend or self.default_backend, name=name)
            self._callers[name] = caller
            return caller

    @property
    def callers(self) -> Mapping[str, Caller]:
        """The running workers by name (a copy)."""
        with self._lock:
            return {name: c for name, c in self._callers.items() if not c.stopped}

    def stop_all(self) -> None:
        """Stop every worker (kernel shutdown); their running cells are cancelled."""
        with self._lock:
            callers = list(self._callers.values())
            self._callers.clear()
        for caller in callers:
            caller.stop()
