"""The IPython shell that runs cells: output goes to iopub instead of a terminal.

IPython owns parsing, magics, history, completion and tracebacks; this subclass only decides
where things go: results and displays become iopub messages with the cell's parent header,
tracebacks become ``error`` messages, and pager text and ``exit`` become reply payloads.
"""

from __future__ import annotations

import sys
import traceback
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from traitlets import Any as AnyTrait
from traitlets import Type

from ._cell_files import CellCompiler
from ._context import current_request

if TYPE_CHECKING:
    from ._message import Message

__all__ = ["CellState", "KernelShell", "current_cell"]


class OutputSink(Protocol):
    """What the shell needs from the kernel to send output."""

    def publish(
        self,
        msg_type: str,
        content: dict[str, Any],
        parent: Message | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Send a message on iopub."""
        ...

    def flush_streams(self) -> None:
        """Publish buffered stdout and stderr."""
        ...


@dataclass(slots=True)
class CellState:
    """What the kernel tracks while one cell runs: its error and whether it was interrupted."""

    request: Message
    execution_count: int
    error: dict[str, Any] | None = None
    interrupted: bool = False
    cancelled_exc_class: type[BaseException] | None = None
    payload: list[dict[str, Any]] = field(default_factory=list)


current_cell: ContextVar[CellState | None] = ContextVar("async_kernel_cell", default=None)
"""The cell the current code runs in, if any."""


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


class KernelShell(InteractiveShell):
    """IPython's shell wired to a Jupyter kernel's iopub channel."""

    displayhook_class = Type(KernelDisplayHook)
    display_pub_class = Type(KernelDisplayPublisher)
    compiler_class = Type(CellCompiler)  # cells are named after their code's hash (debugger)
    sink: OutputSink = AnyTrait(None, help="Where iopub messages go (the kernel).")  # pyright: ignore[reportAssignmentType]
    kernel = AnyTrait(None, help="The kernel this shell belongs to (libraries look for it).")

    # `!cmd` streams its output through sys.stdout as the command runs.
    system = InteractiveShell.system_piped

    def init_io(self) -> None:
        """Leave sys.stdout/sys.stderr to the kernel, which installs its own streams."""

    def enable_gui(self, gui: str | None = None) -> None:
        """Accept inline (no event loop); other GUIs come from async-kernel-gui."""
        if gui in (None, "inline"):
            return
        msg = (
            f"GUI event loop {gui!r} is not available in this kernel; "
            "install async-kernel[gui] for tk and qt integration"
        )
        raise NotImplementedError(msg)

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
            etype, evalue = KeyboardInterrupt, KeyboardInterrupt()
            stb = ["\x1b[0;31mKeyboardInterrupt\x1b[0m: the cell was interrupted"]
        content = {"ename": etype.__name__, "evalue": str(evalue), "traceback": stb}
        self.sink.flush_streams()
        self.sink.publish("error", content)
        if cell is not None:
            cell.error = content

    def showtraceback(
        self,
        exc_tuple: tuple[type[BaseException], BaseException, Any] | None = None,
        filename: str | None = None,
        tb_offset: int | None = None,
        exception_only: bool = False,
        running_compiled_code: bool = False,
    ) -> None:
        """Report exception groups as cell errors too.

        IPython prints a traceback whose chain holds an exception group straight to stderr,
        bypassing ``_showtraceback``, so the cell would look successful; on trio every failing
        nursery raises one.
        """
        if not exception_only:
            try:
                etype, value, tb = self._get_exc_info(exc_tuple)
            except ValueError:
                etype = value = tb = None
            if etype is not None and value is not None and _holds_group(value):
                stb = traceback.format_exception(etype, value, tb)
                self._showtraceback(etype, value, "".join(stb).splitlines())
                return
        super().showtraceback(exc_tuple, filename, tb_offset, exception_only, running_compiled_code)

    def set_next_input(self, s: str, replace: bool = False) -> None:
        """Ask the frontend to put ``s`` in the next input cell (a reply payload)."""
        self.payload_manager.write_payload(  # pyright: ignore[reportOptionalMemberAccess]
            {"source": "set_next_input", "text": s, "replace": replace}
        )

    def ask_exit(self) -> None:
        """``exit`` in a cell asks the frontend to shut the kernel down (a reply payload)."""
        self.exit_now = True
        self.payload_manager.write_payload(  # pyright: ignore[reportOptionalMemberAccess]
            {"source": "ask_exit", "keepkernel": self.keepkernel_on_exit}
        )

    keepkernel_on_exit: bool = False


def _holds_group(value: BaseException | None) -> bool:
    while value is not None:
        if isinstance(value, BaseExceptionGroup):
            return True
        value = value.__context__
    return False


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
    shell.payload_manager.write_payload({"source": "page", "data": bundle, "start": start})  # pyright: ignore[reportOptionalMemberAccess]
