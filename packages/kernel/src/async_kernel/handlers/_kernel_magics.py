"""Magics of async-kernel: ``%connect_info``, ``%thread``, ``%asyncio``, ``%trio``, ``%callers``.

``%thread``, ``%asyncio`` and ``%trio`` run their line, or their cell's body, in a named worker
caller (a thread with its own event loop, created on first use) and wait for it: the code
sees the cell's names, may ``await``, and its last value is the magic's value. The calling
thread blocks meanwhile, as with any blocking call, and an interrupt stops the wait and
cancels the code. They work in any shell and thread, and inside functions a cell defines
(the function's local names are visible). Errors are raised as the cell's own.

The magics get what they use, never the kernel: the connection details, the named workers
and the kernel's own callers.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class, needs_local_scope

from async_caller import BACKENDS, Caller, NoCallerError

from ..shell._code_runner import run_code

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from IPython.core.interactiveshell import InteractiveShell

    from ..runtime._worker_callers import WorkerCallers

__all__ = ["ConnectionDetails", "KernelMagics", "caller_table"]

_OPTION = re.compile(r"""\s*(name|backend)\s*=\s*("[^"]*"|'[^']*'|\S+)""")


@dataclass(frozen=True, slots=True)
class ConnectionDetails:
    """What ``%connect_info`` shows: the connection file's content and where it is."""

    content: dict[str, Any]
    path: str | None


@magics_class
class KernelMagics(Magics):
    """The magics async-kernel adds to IPython's."""

    def __init__(
        self,
        shell: InteractiveShell,
        *,
        connection: Callable[[], ConnectionDetails],
        workers: WorkerCallers,
        kernel_callers: Callable[[], Iterable[Caller]],
    ) -> None:
        super().__init__(shell)
        self._connection = connection
        self._workers = workers
        self._kernel_callers = kernel_callers

    @line_magic
    def connect_info(self, line: str) -> None:
        """Print the kernel's connection details and how to connect another client to it."""
        if line.strip():
            raise UsageError(f"%connect_info takes no arguments, not {line.strip()!r}")
        details = self._connection()
        print(json.dumps(details.content, indent=2))  # noqa: T201 - a magic's output
        where = details.path or "<connection file>"
        print(f"\nConnection file: {where}")  # noqa: T201
        print("Connect another client to this kernel with:")  # noqa: T201
        print(f"    jupyter console --existing {where}")  # noqa: T201

    @needs_local_scope
    @line_cell_magic
    def thread(
        self, line: str, cell: str | None = None, local_ns: dict[str, Any] | None = None
    ) -> Any:
        """Run the line, or the cell, in a named worker thread with its own event loop.

        Usage::

            %thread [name=NAME] [backend=asyncio|trio] CODE
            %%thread [name=NAME] [backend=asyncio|trio]

        The worker is created on first use, with the kernel's backend unless ``backend=``
        says otherwise, and kept: later calls with the same name run in the same thread.
        """
        options, code = _split_options(line, cell, "thread")
        return self._run(code, options.get("name"), options.get("backend"), local_ns, "thread")

    @needs_local_scope
    @line_cell_magic
    def asyncio(
        self, line: str, cell: str | None = None, local_ns: dict[str, Any] | None = None
    ) -> Any:
        """Run the line, or the cell, in an asyncio event loop, whatever the kernel's backend.

        The loop is a worker thread's (``worker-asyncio``), kept for later calls.
        """
        return self._run_on("asyncio", line, cell, local_ns)

    @needs_local_scope
    @line_cell_magic
    def trio(
        self, line: str, cell: str | None = None, local_ns: dict[str, Any] | None = None
    ) -> Any:
        """Run the line, or the cell, in a trio event loop, whatever the kernel's backend.

        The loop is a worker thread's (``worker-trio``), kept for later calls.
        """
        return self._run_on("trio", line, cell, local_ns)

    @line_magic
    def callers(self, line: str) -> None:
        """Print a table of the live callers: each thread with an event loop that runs calls."""
        if line.strip():
            raise UsageError(f"%callers takes no arguments, not {line.strip()!r}")
        kernel_callers = list(self._kernel_callers())
        others = [c for c in Caller.all_callers() if c.parent is None and c not in kernel_callers]
        print(caller_table([*kernel_callers, *others]))  # noqa: T201 - a magic's output

    # --- running code in a worker ------------------------------------------------------------

    def _run_on(
        self, backend: str, line: str, cell: str | None, local_ns: dict[str, Any] | None
    ) -> Any:
        options, code = _split_options(line, cell, backend, allowed=("name",))
        return self._run(code, options.get("name"), backend, local_ns, backend)

    def _run(
        self,
        code: str,
        name: str | None,
        backend: str | None,
        local_ns: dict[str, Any] | None,
        magic: str,
    ) -> Any:
        if not code.strip():
            raise UsageError(
                f"%{magic} needs code to run: %{magic} CODE, or %%{magic} above a cell"
            )
        shell = self.shell
        assert shell is not None
        global_ns: dict[str, Any] = shell.user_global_ns
        if local_ns is global_ns or local_ns is shell.user_ns:
            local_ns = None  # a cell's top level: names go to the shell's namespace
        source = shell.transform_cell(code)
        worker = self._workers.get(name, backend)
        if _current_caller() is worker:
            raise UsageError(
                f"%{magic} was called in the thread it would run in ({worker.name!r}); "
                "run the code directly"
            )
        pending = worker.call_soon(run_code, source, global_ns, local_ns, f"<%{magic}>")
        try:
            return pending.wait_sync()
        except BaseException:
            pending.cancel("the cell that ran the magic was interrupted")
            raise


def _current_caller() -> Caller | None:
    try:
        return Caller.get_current()
    except NoCallerError:
        return None


def _split_options(
    line: str, cell: str | None, magic: str, allowed: tuple[str, ...] = ("name", "backend")
) -> tuple[dict[str, str], str]:
    """Take the leading ``name=``/``backend=`` options off the line; return them and the code."""
    options: dict[str, str] = {}
    position = 0
    while match := _OPTION.match(line, position):
        option, value = match.group(1), match.group(2).strip("\"'")
        if option not in allowed:
            raise UsageError(f"%{magic} takes {', '.join(o + '=' for o in allowed)} not {option}=")
        if option == "backend" and value not in BACKENDS:
            raise UsageError(
                f"unknown backend {value!r} for %{magic}; use one of: {', '.join(BACKENDS)}"
            )
        options[option] = value
        position = match.end()
    rest = line[position:].strip()
    if cell is None:
        return options, rest
    if rest:
        raise UsageError(
            f"%%{magic} takes only {' and '.join(o + '=...' for o in allowed)} on its line, "
            f"not {rest!r}; the code goes in the cell"
        )
    return options, cell


# --- %callers ------------------------------------------------------------------------------------

_COLUMNS = ("name", "thread", "backend", "running", "queued", "parent", "children")


def caller_table(callers: Iterable[Caller]) -> str:
    """A text table of ``callers``, one per row, the given order first, then their children."""
    rows: list[tuple[str, ...]] = []
    seen: set[int] = set()

    def add(caller: Caller) -> None:
        if id(caller) in seen or caller.stopping.done():
            return
        seen.add(id(caller))
        children = sorted(caller.children, key=lambda child: child.name)
        parent = caller.parent
        rows.append(
            (
                caller.name,
                _thread_name(caller),
                caller.backend,
                str(caller.calls_running),
                str(caller.calls_queued),
                parent.name if parent is not None else "-",
                ", ".join(child.name for child in children) or "-",
            )
        )
        for child in children:
            add(child)

    for caller in callers:
        add(caller)
    widths = [max(len(column), *(len(row[i]) for row in rows)) for i, column in enumerate(_COLUMNS)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [_COLUMNS, tuple("-" * width for width in widths), *rows]
    ]
    return "\n".join(lines)


def _thread_name(caller: Caller) -> str:
    thread = caller.thread
    return thread.name + (" (main)" if thread is threading.main_thread() else "")
