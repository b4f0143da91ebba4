"""The IPython shell that runs cells: output goes to iopub instead of a terminal.

IPython owns parsing, magics, history, completion and tracebacks; this subclass only decides
where things go: results and displays become iopub messages with the cell's parent header,
tracebacks become ``error`` messages, and pager text and ``exit`` become reply payloads.

One shell serves the main shell and every subshell. The per-shell parts (namespace, execution
count, history, completer) are properties that follow :data:`current_subshell`; payloads
belong to the running cell. So cells running at once in several threads each see their own.
"""

from __future__ import annotations

import ast
import atexit
import importlib.util
import os
import re
import shutil
import sys
import tempfile
import traceback
from array import array
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from IPython.core.compilerop import CachingCompiler
from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.payload import PayloadManager
from traitlets import Any as AnyTrait
from traitlets import Type

from async_caller import Caller, threads_available

from .._exceptions import CellTimeoutError
from ..runtime._context import current_request
from ..runtime._interrupts import CellState, current_cell
from ._history import KernelHistoryManager
from ._own_loop_calls import RUNNER_WORD, OwnLoopCalls
from ._subshell import current_subshell
from ._system import (
    RESTART_NOTE,
    TopLevelCommands,
    changes_packages,
    package_command,
    run_command,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from IPython.core.completer import IPCompleter
    from IPython.core.history import HistoryManager

    from ..runtime._outbox import Sender
    from ._gui import GuiManager

__all__ = ["MAX_HASHED_CELL", "CellCompiler", "CellFiles", "KernelShell", "cell_files", "murmur2"]


# --- cell files: naming cells after the hash of their code --------------------------------------
#
# Naming cells after the hash of their code, so a debugger can map them to source files.
#
# JupyterLab's debugger finds a cell's source file without asking the kernel: it hashes the
# cell's text with MurmurHash2 (UTF-8 bytes, the seed from ``debugInfo``) and puts the number
# between ``tmpFilePrefix`` and ``tmpFileSuffix``. The kernel compiles every cell under that same
# path (:class:`CellCompiler`), so breakpoints set on the path hit when the cell runs, and
# ``dumpCell`` writes the code to the path so the debugger can show it.

HASH_SEED = 0x5EED_CE11
"""Seed for the cell hash; any fixed 32-bit number works, the frontend reads it from debugInfo."""

MAX_HASHED_CELL = 256 * 1024
"""Cells longer than this (in characters) keep IPython's name: hashing costs ~0.2 s per MB."""

_MASK = 0xFFFF_FFFF
_MULTIPLIER = 0x5BD1_E995


def murmur2(text: str, seed: int) -> int:
    """The 32-bit MurmurHash2 of ``text``'s UTF-8 bytes, as JupyterLab's debugger computes it."""
    data = text.encode()
    length = len(data)
    whole = length - length % 4
    value = (seed ^ length) & _MASK
    multiplier = _MULTIPLIER
    for word in _little_endian_words(data[:whole]):
        mixed = (word * multiplier) & _MASK
        value = ((value * multiplier) ^ ((mixed ^ (mixed >> 24)) * multiplier)) & _MASK
    tail = data[whole:]
    if tail:
        value ^= int.from_bytes(tail, "little")
        value = (value * multiplier) & _MASK
    value ^= value >> 13
    value = (value * multiplier) & _MASK
    value ^= value >> 15
    return value


def _little_endian_words(data: bytes) -> array[int]:
    words = array("I", data)  # 4-byte items on every platform CPython supports
    if sys.byteorder == "big":
        words.byteswap()
    return words


class CellFiles:
    """Where the source file of each cell lives: one folder per kernel process."""

    def __init__(self, folder: Path, seed: int = HASH_SEED) -> None:
        self.folder = folder
        self.seed = seed
        self.prefix = f"{folder}{os.sep}"
        self.suffix = ".py"
        self._cleanup_registered = False

    def path_for(self, code: str) -> str:
        """The file name a cell with this code is compiled under."""
        return f"{self.prefix}{murmur2(code, self.seed)}{self.suffix}"

    def is_cell(self, path: str) -> bool:
        """Whether ``path`` names a cell (rather than a module on disk)."""
        return path.startswith(self.prefix) and path.endswith(self.suffix)

    def dump(self, code: str) -> str:
        """Write the cell's code to its file and return the path (any thread)."""
        path = Path(self.path_for(code))
        if not self._cleanup_registered:
            self._cleanup_registered = True
            atexit.register(self.remove)
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_text(code, encoding="utf-8")
        partial.replace(path)  # readers never see a half-written file
        return str(path)

    def remove(self) -> None:
        """Delete the folder and the cells dumped into it (at exit, once something was dumped)."""
        shutil.rmtree(self.folder, ignore_errors=True)


cell_files = CellFiles(Path(tempfile.gettempdir()) / f"async_kernel_{os.getpid()}")
"""The cell files of this kernel process."""


class CellCompiler(CachingCompiler):
    """IPython's compiler, naming each cell after the hash of its raw code.

    Tracebacks still read ``Cell In[n]``: IPython maps the name back through its filename map.
    Cells over :data:`MAX_HASHED_CELL` keep IPython's own name, so the debugger cannot stop in
    them; hashing a huge cell on every run would cost seconds.

    When ``IPYKERNEL_CELL_NAME`` is set (nbclient and nbval set it for tracebacks that do not
    change between runs), every cell gets that name, as in ipykernel; the debugger then cannot
    tell cells apart.
    """

    def ast_parse(self, source: str, filename: str = "<unknown>", symbol: str = "exec") -> ast.AST:
        """Parse a cell; call sites named like an event-loop runner go through the kernel's helper.

        See ``_own_loop_calls``: ``asyncio.run(...)`` and the like then run in a cell.
        """
        tree = super().ast_parse(source, filename, symbol)
        if RUNNER_WORD.search(source) is not None:
            tree = ast.fix_missing_locations(OwnLoopCalls().visit(tree))
        return tree

    def get_code_name(self, raw_code: str, transformed_code: str, number: int) -> str:
        """The cell's file name: the same path ``dumpCell`` writes for this code."""
        fixed_name = os.environ.get("IPYKERNEL_CELL_NAME")
        if fixed_name:
            return fixed_name
        if len(raw_code) > MAX_HASHED_CELL:
            return super().get_code_name(raw_code, transformed_code, number)
        return cell_files.path_for(raw_code)


class KernelDisplayHook(DisplayHook):
    """Sends ``execute_result`` for a cell's last expression instead of printing it."""

    def start_displayhook(self) -> None:
        """Nothing to set up: the message is built in one go."""

    def write_output_prompt(self) -> None:
        """No prompt: the frontend shows the execution count."""

    def write_format_data(
        self, format_dict: dict[str, Any], md_dict: dict[str, Any] | None = None
    ) -> None:
        """Publish the formatted result as ``execute_result``."""
        shell: KernelShell = self.shell  # pyright: ignore[reportAssignmentType]
        shell.sink.flush_streams()
        cell = current_cell.get()
        count = cell.execution_count if cell is not None else self.prompt_count
        shell.sink.publish(
            "execute_result",
            {"execution_count": count, "data": format_dict, "metadata": md_dict or {}},
        )

    def finish_displayhook(self) -> None:
        """Nothing to flush: the result was sent whole."""
        self._is_active = False


class KernelDisplayPublisher(DisplayPublisher):
    """Sends ``display_data``, ``update_display_data`` and ``clear_output`` on iopub."""

    def publish(
        self,
        data: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        source: object = None,
        *,
        transient: dict[str, Any] | None = None,
        update: bool = False,
        **kwargs: object,
    ) -> None:
        """Publish a display; ``update=True`` updates the display named in ``transient``."""
        shell: KernelShell = self.shell  # pyright: ignore[reportAssignmentType]
        shell.sink.flush_streams()
        content: dict[str, Any] = {"data": data, "metadata": metadata or {}}
        content["transient"] = transient or {}
        shell.sink.publish("update_display_data" if update else "display_data", content)

    def clear_output(self, wait: bool = False) -> None:
        """Ask the frontend to clear the cell's output (after the next output if ``wait``)."""
        shell: KernelShell = self.shell  # pyright: ignore[reportAssignmentType]
        shell.sink.flush_streams()
        shell.sink.publish("clear_output", {"wait": bool(wait)})


class CellPayloads(PayloadManager):
    """Keeps payloads with the cell that wrote them, so concurrent cells never swap them."""

    def _payloads(self) -> list[dict[str, Any]]:
        cell = current_cell.get()
        return cell.payload if cell is not None else self._payload

    def write_payload(self, data: dict[str, Any], single: bool = True) -> None:
        """Add a payload to the running cell's reply; ``single`` replaces one of the same source."""
        if not isinstance(data, dict):
            raise TypeError(f"a payload must be a dict, not {type(data).__name__}")
        payloads = self._payloads()
        if single and "source" in data:
            for index, existing in enumerate(payloads):
                if existing.get("source") == data["source"]:
                    payloads[index] = data
                    return
        payloads.append(data)

    def read_payload(self) -> list[dict[str, Any]]:
        """The running cell's payloads."""
        return self._payloads()

    def clear_payload(self) -> None:
        """Forget the running cell's payloads."""
        self._payloads().clear()


class KernelShell(InteractiveShell):
    """IPython's shell wired to a Jupyter kernel's iopub channel."""

    displayhook_class = Type(KernelDisplayHook)
    display_pub_class = Type(KernelDisplayPublisher)
    compiler_class = Type(CellCompiler)  # cells are named after their code's hash (debugger)
    sink: Sender = AnyTrait(None, help="Where iopub messages go (the kernel).")  # pyright: ignore[reportAssignmentType]
    kernel = AnyTrait(None, help="The kernel this shell belongs to (libraries look for it).")
    gui_manager: GuiManager | None = None
    """Switches GUI integrations for ``%gui`` and ``%matplotlib`` (set by the kernel)."""

    # `!cmd` streams its output through sys.stdout as the command runs (blocking; a cell's
    # top-level `!cmd` awaits `system_async` instead, see `_system`).
    system = InteractiveShell.system_piped

    def system_async(self, cmd: str) -> Awaitable[None]:
        """``!cmd`` at a cell's top level: run it while the cell's event loop goes on.

        Sets ``_exit_code`` in the user namespace, as ``!cmd`` does.
        """
        return self._run_command(self.var_expand(cmd, depth=1))

    def package_command_async(self, tool: str, line: str) -> Awaitable[None]:
        """``%pip`` or ``%uv`` at a cell's top level, run as :meth:`system_async` runs ``!cmd``."""
        command = package_command(tool, self.var_expand(line, depth=1))
        note = RESTART_NOTE if changes_packages(line) else ""
        return self._run_command(command, note)

    def transform_ast(self, node: ast.AST) -> ast.AST:
        """IPython's AST transformers, then top-level ``!cmd``/``%pip``/``%uv`` made to await.

        The rewrite (``_system``) runs only for cells that have such a statement at all.
        """
        node = super().transform_ast(node)
        if isinstance(node, ast.Module) and any(map(_may_run_command, node.body)):
            node = TopLevelCommands().visit(node)
        return node

    async def _run_command(self, command: str, note: str = "") -> None:
        self.user_ns["_exit_code"] = await run_command(command)
        if note:
            sys.stdout.write(note)

    _main_execution_count: int = 1
    _main_history: HistoryManager | None = None
    _main_completer: IPCompleter | None = None

    # --- per-shell state: the main shell's, or the current subshell's --------------------------

    @property
    def main_namespace(self) -> dict[str, Any]:
        """The main shell's user namespace, whichever shell the calling code runs in."""
        return self._user_ns

    @property
    def main_completer(self) -> IPCompleter:
        """The main shell's completer."""
        assert self._main_completer is not None
        return self._main_completer

    @property
    def user_ns(self) -> dict[str, Any]:
        """The namespace cells of the current shell run in."""
        subshell = current_subshell.get()
        return self._user_ns if subshell is None else subshell.namespace

    @user_ns.setter
    def user_ns(self, ns: dict[str, Any]) -> None:
        self._user_ns = ns

    @property
    def user_global_ns(self) -> dict[str, Any]:
        """The globals cells of the current shell run with (the same dict as ``user_ns``)."""
        subshell = current_subshell.get()
        return self.user_module.__dict__ if subshell is None else subshell.namespace

    @property
    def execution_count(self) -> int:
        """The current shell's execution count."""
        subshell = current_subshell.get()
        return self._main_execution_count if subshell is None else subshell.execution_count

    @execution_count.setter
    def execution_count(self, count: int) -> None:
        subshell = current_subshell.get()
        if subshell is None:
            self._main_execution_count = count
        else:
            subshell.execution_count = count

    @property
    def history_manager(self) -> HistoryManager | None:
        """The current shell's history (each subshell has a session of its own)."""
        subshell = current_subshell.get()
        return self._main_history if subshell is None else subshell.history_manager

    @history_manager.setter
    def history_manager(self, history: HistoryManager | None) -> None:
        self._main_history = history

    @property
    def Completer(self) -> IPCompleter:
        """The current shell's completer."""
        subshell = current_subshell.get()
        return self.main_completer if subshell is None else subshell.completer

    @Completer.setter
    def Completer(self, completer: IPCompleter) -> None:
        self._main_completer = completer

    def init_user_ns(self) -> None:
        """Cells see ``Caller`` without importing it (hidden from ``%who``, like ``In``)."""
        super().init_user_ns()
        names = {"Caller": Caller}
        self.user_ns_hidden.update(names)
        self.user_ns.update(names)

    def init_history(self) -> None:
        """Keep history with writes that never make a cell wait (see ``_history``)."""
        # Without threads IPython cannot start its saving thread: keep the history in memory.
        memory = {} if threads_available() else {"hist_file": ":memory:"}
        history = KernelHistoryManager(shell=self, parent=self, **memory)
        self.history_manager = history
        self.configurables.append(history)  # pyright: ignore[reportArgumentType]

    def init_payload(self) -> None:
        """Keep payloads per cell (see :class:`CellPayloads`)."""
        payloads = CellPayloads(parent=self)
        self.payload_manager = payloads
        self.configurables.append(payloads)  # pyright: ignore[reportArgumentType]

    # --- where output goes --------------------------------------------------------------------

    def init_io(self) -> None:
        """Leave sys.stdout/sys.stderr to the kernel, which installs its own streams."""

    def enable_gui(self, gui: str | None = None) -> None:
        """Switch GUI integration (``%gui``, ``%matplotlib``); they come from entry points."""
        if self.gui_manager is not None:
            self.gui_manager.enable(gui)

    def enable_matplotlib(self, gui: str | None = None) -> tuple[str | None, str]:
        """Check the integration for ``gui`` is installed before matplotlib switches to it."""
        if self.gui_manager is not None:
            self.gui_manager.check(gui)
        return super().enable_matplotlib(gui)

    def init_hooks(self) -> None:
        """Send pager text to the frontend as a payload instead of a terminal pager."""
        super().init_hooks()
        self.set_hook("show_in_pager", _show_in_pager, 99)

    def _showtraceback(
        self, etype: type[BaseException], evalue: BaseException, stb: list[str]
    ) -> None:
        """Publish the error on iopub and remember it for the execute reply."""
        cell = current_cell.get()
        if cell is not None and cell.interrupted and _is_interrupt(etype, cell):
            timeout = None
            if cell.timed_out:
                timeout = CellTimeoutError(
                    f"the cell ran past its timeout of {cell.timeout:g} s and was interrupted"
                )
            etype, evalue, stb = self._interrupted_traceback(evalue.__traceback__, timeout)
        content = {"ename": etype.__name__, "evalue": str(evalue), "traceback": stb}
        self.sink.flush_streams()
        self.sink.publish("error", content)
        if cell is not None:
            cell.error = content
        elif sys.__stderr__ is not None:
            # No cell to show it (start-up code, a config's exec_lines): the kernel's log does.
            sys.__stderr__.write(_ANSI_ESCAPE.sub("", "\n".join(stb)) + "\n")
            sys.__stderr__.flush()

    def _interrupted_traceback(
        self, tb: TracebackType | None, error: BaseException | None = None
    ) -> tuple[type[BaseException], BaseException, list[str]]:
        """An interrupted cell's error as IPython formats a KeyboardInterrupt (as ipykernel's).

        Only the cell's own frames are shown: the kernel's, IPython's and the event loop's
        between them are left out. A kernel that is shutting down (SIGTERM) says so; a cell
        stopped by its ``timeout=`` directive shows ``error`` (a ``CellTimeoutError``) instead.
        """
        if error is None:
            error = KeyboardInterrupt(*(["the kernel is terminating"] if self.terminating else []))
        try:
            cell_tb = _without_kernel_frames(tb)
            stb = self.InteractiveTB.structured_traceback(type(error), error, cell_tb, tb_offset=0)
        except Exception:  # noqa: BLE001 - never lose the error to its formatting
            stb = [f"{type(error).__name__}: {error}"]
        return type(error), error, list(stb)

    # --- ipykernel's shell: what libraries call on get_ipython() -------------------------------

    def get_parent(self) -> dict[str, Any]:
        """The request the calling code runs for, as a message dict (ipykernel's shell has it)."""
        return self.kernel.get_parent() if self.kernel is not None else {}

    def set_parent(self, parent: object) -> None:
        """Accepted and ignored: output follows each request through context variables."""
        del parent

    @property
    def parent_header(self) -> dict[str, Any]:
        """The current request (``session.send(..., parent=shell.parent_header)`` takes it)."""
        return self.get_parent()

    terminating: bool = False
    """Set when the kernel is shutting down: interrupted cells say so in their error."""

    def showtraceback(
        self,
        exc_tuple: tuple[type[BaseException], BaseException, Any] | None = None,
        filename: str | None = None,
        tb_offset: int | None = None,
        exception_only: bool = False,
        running_compiled_code: bool = False,
    ) -> None:
        """Report exception groups and magic usage errors as cell errors too.

        IPython prints both straight to stderr, bypassing ``_showtraceback``, so the cell
        would look successful: a traceback whose chain holds an exception group (on trio
        every failing nursery raises one), and a ``UsageError`` from a magic.
        """
        try:
            etype, value, tb = self._get_exc_info(exc_tuple)
        except ValueError:
            etype = value = tb = None
        if etype is not None and value is not None:
            cell = current_cell.get()
            if cell is not None and cell.interrupted and _is_interrupt(etype, cell):
                # Reported as a plain KeyboardInterrupt: skip formatting a traceback (slow).
                self._showtraceback(etype, value, [])
                return
            if not exception_only and _holds_group(value):
                stb = traceback.format_exception(etype, value, tb)
                self._showtraceback(etype, value, "".join(stb).splitlines())
                return
            if issubclass(etype, UsageError) and cell is not None and cell.error is None:
                # The message is on stderr already (IPython's way); the reply says it failed.
                cell.error = {"ename": etype.__name__, "evalue": str(value), "traceback": []}
        super().showtraceback(exc_tuple, filename, tb_offset, exception_only, running_compiled_code)

    def _format_exception_for_storage(
        self,
        exception: BaseException,
        filename: str | None = None,
        running_compiled_code: bool = False,
    ) -> dict[str, Any]:
        """Store the traceback the cell already showed instead of formatting it again.

        IPython 9 formats every failing cell's traceback a second time for its history: tens
        of milliseconds added to each error reply, and to every interrupt.
        """
        cell = current_cell.get()
        if cell is not None and cell.error is not None:
            return dict(cell.error)
        return super()._format_exception_for_storage(exception, filename, running_compiled_code)

    def set_next_input(self, s: str, replace: bool = False) -> None:
        """Ask the frontend to put ``s`` in the next input cell (a reply payload)."""
        self.payload_manager.write_payload(
            {"source": "set_next_input", "text": s, "replace": replace}
        )

    def ask_exit(self) -> None:
        """``exit`` in a cell asks the frontend to shut the kernel down (a reply payload)."""
        self.exit_now = True
        self.payload_manager.write_payload(
            {"source": "ask_exit", "keepkernel": self.keepkernel_on_exit}
        )

    keepkernel_on_exit: bool = False


def _may_run_command(statement: ast.stmt) -> bool:
    """Whether a cell's statement may be ``get_ipython().system(...)`` or a line magic call."""
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Attribute)
        and statement.value.func.attr in ("system", "run_line_magic")
    )


def _holds_group(value: BaseException | None) -> bool:
    while value is not None:
        if isinstance(value, BaseExceptionGroup):
            return True
        value = value.__context__
    return False


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
"""Colour codes, left out of tracebacks written to the kernel's log."""


def load_python_lexer() -> None:
    """Import pygments' Python lexer now (main thread, before the kernel serves).

    ``pygments.lexers`` loads its lexers lazily through a module ``__getattr__`` that is not
    thread-safe: an inspect_request in a worker thread and a traceback in a cell that both
    reach for ``PythonLexer`` first can make one of them fail with ImportError.
    """
    from pygments.lexers import PythonLexer

    del PythonLexer


def _package_dirs(*names: str) -> tuple[str, ...]:
    dirs = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            dirs.extend(os.path.join(folder, "") for folder in spec.submodule_search_locations)
    return tuple(dirs)


_KERNEL_CODE = _package_dirs(
    "IPython", "asyncio", "anyio", "trio", "outcome", "async_caller", "async_kernel"
)
"""Where the frames between the kernel and the cell's code live: left out of tracebacks."""


def _without_kernel_frames(tb: TracebackType | None) -> TracebackType | None:
    """The traceback ``tb`` with only the cell's own frames, linked anew."""
    kept: list[TracebackType] = []
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_KERNEL_CODE):
            kept.append(tb)
        tb = tb.tb_next
    linked: TracebackType | None = None
    for entry in reversed(kept):
        # tb_lineno is None for an entry made at a line still being traced (a pure-Python loop)
        line = entry.tb_lineno if entry.tb_lineno is not None else entry.tb_frame.f_lineno
        linked = TracebackType(linked, entry.tb_frame, entry.tb_lasti, line)
    return linked


def _is_interrupt(etype: type[BaseException], cell: CellState) -> bool:
    if issubclass(etype, KeyboardInterrupt):
        return True
    return cell.cancelled_exc_class is not None and issubclass(etype, cell.cancelled_exc_class)


def _show_in_pager(
    shell: KernelShell, data: str | dict[str, Any], start: int = 0, screen_lines: int = 0
) -> None:
    """IPython hook: page text through the execute reply's ``page`` payload."""
    del screen_lines
    bundle = data if isinstance(data, dict) else {"text/plain": data}
    if current_request.get() is None:  # no request to answer: print it instead
        sys.stdout.write(bundle.get("text/plain", ""))
        return
    shell.payload_manager.write_payload({"source": "page", "data": bundle, "start": start})
