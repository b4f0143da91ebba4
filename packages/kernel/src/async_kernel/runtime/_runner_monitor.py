"""Runners started inside libraries, on Python 3.12 and later, through ``sys.monitoring``.

The cell compiler sees only the runners a cell calls itself (``_own_loops``). From Python 3.12,
``sys.monitoring`` reports when given functions start and return without anything being
patched: a ``PY_START`` event on the code of ``asyncio.run``, ``asyncio.Runner.run``,
``BaseEventLoop.run_until_complete`` / ``run_forever``, ``anyio.run`` or ``trio.run`` opens a
section when it comes from a cell's thread where the kernel's loop runs and no section is open
there; the ``PY_RETURN`` or ``PY_UNWIND`` event of the same frame closes it.

Only those code objects carry events, so nothing else pays for them. ``PY_UNWIND`` (a runner
that raises) can only be asked for every function at once: it is switched on while such a
section is open, and off again after. Callbacks run in the thread that called the runner.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from asyncio import base_events, events
from typing import TYPE_CHECKING, Any

from ._interrupts import current_cell
from ._own_loops import LOOP_METHODS, kernel_loop_here, open_section, sections_open_here

if TYPE_CHECKING:
    from collections.abc import Iterator
    from contextlib import AbstractContextManager
    from types import CodeType, FrameType

    from ._own_loops import Section

__all__ = ["RunnerMonitor", "available"]

log = logging.getLogger(__name__)

_monitoring: Any = sys.__dict__.get("monitoring")
"""``sys.monitoring``, or None before Python 3.12."""

TOOL_NAME = "async-kernel own loops"


def available() -> bool:
    """Whether this Python has ``sys.monitoring`` (3.12 and later)."""
    return _monitoring is not None


def _runner_codes() -> Iterator[tuple[str, CodeType]]:
    """The code of each runner that is imported now, with the section kind it opens."""
    yield "asyncio.run", asyncio.runners.run.__code__
    yield "asyncio.Runner.run", asyncio.runners.Runner.run.__code__
    for name in LOOP_METHODS:
        yield name, getattr(base_events.BaseEventLoop, name).__code__
    for module_name, kind in (
        ("anyio._core._eventloop", "anyio.run"),
        ("trio._core._run", "trio.run"),
    ):
        module = sys.modules.get(module_name)
        run = getattr(module, "run", None)
        code = getattr(run, "__code__", None)
        if code is not None:
            yield kind, code


class _OpenHere(threading.local):
    def __init__(self) -> None:
        self.stack: list[tuple[FrameType, AbstractContextManager[Section]]] = []


class RunnerMonitor:
    """Opens a section for a runner that a library calls in a cell (see the module docstring)."""

    def __init__(self) -> None:
        monitoring = _monitoring
        if monitoring is None:
            msg = "sys.monitoring needs Python 3.12 or later"
            raise RuntimeError(msg)
        self._tool = _claim_tool_id(monitoring)
        self._kinds: dict[CodeType, str] = {}
        self._open = _OpenHere()
        self._unwind_watchers = 0
        self._lock = threading.Lock()
        events_ = monitoring.events
        monitoring.register_callback(self._tool, events_.PY_START, self._started)
        monitoring.register_callback(self._tool, events_.PY_RETURN, self._returned)
        monitoring.register_callback(self._tool, events_.PY_UNWIND, self._unwound)
        self.watch_imported()

    def watch_imported(self) -> None:
        """Watch the runners of modules imported since the last call (any thread)."""
        monitoring = _monitoring
        wanted = monitoring.events.PY_START | monitoring.events.PY_RETURN
        for kind, code in _runner_codes():
            if code not in self._kinds:
                self._kinds[code] = kind
                monitoring.set_local_events(self._tool, code, wanted)

    def close(self) -> None:
        """Stop watching and give the tool id back (kernel stop)."""
        monitoring = _monitoring
        for code in self._kinds:
            monitoring.set_local_events(self._tool, code, 0)
        monitoring.set_events(self._tool, 0)
        for event in ("PY_START", "PY_RETURN", "PY_UNWIND"):
            monitoring.register_callback(self._tool, getattr(monitoring.events, event), None)
        monitoring.free_tool_id(self._tool)

    # --- callbacks, in the thread that runs the runner ------------------------------------------

    def _started(self, code: CodeType, offset: int) -> None:
        del offset
        if current_cell.get() is None:
            return  # the kernel's own loops, worker threads: the common case, and quick
        try:
            self._open_for(code, sys._getframe(1))
        except Exception:
            log.exception("could not hide the kernel's loop from a runner")

    def _open_for(self, code: CodeType, frame: FrameType) -> None:
        kind = self._kinds.get(code)
        if kind is None:
            return
        loop = frame.f_locals.get("self") if kind in LOOP_METHODS else None
        top = sections_open_here()
        if top is not None:
            # Already in a section (a runner the cell called, or an outer one): the loop
            # that this method runs is the one an interrupt must reach.
            if top.loop is None and isinstance(loop, asyncio.AbstractEventLoop):
                top.loop = loop
            return
        if not kernel_loop_here() or (loop is not None and loop is events._get_running_loop()):
            return  # no kernel loop to hide, or the kernel's own loop: its own error stands
        context = open_section(kind)
        section = context.__enter__()
        if isinstance(loop, asyncio.AbstractEventLoop):
            section.loop = loop
        if kind == "trio.run" and threading.current_thread() is threading.main_thread():
            previous = signal.set_wakeup_fd(-1)  # trio's own, without its warning
            section.restore.append(
                lambda: signal.set_wakeup_fd(previous, warn_on_full_buffer=False)
            )
        self._open.stack.append((frame, context))
        with self._lock:
            self._unwind_watchers += 1
            if self._unwind_watchers == 1:
                _monitoring.set_events(self._tool, _monitoring.events.PY_UNWIND)

    def _returned(self, code: CodeType, offset: int, value: object) -> None:
        del code, offset, value
        if self._open.stack:
            self._close_for(sys._getframe(1))

    def _unwound(self, code: CodeType, offset: int, exc: BaseException) -> None:
        del code, offset, exc
        if self._open.stack:
            self._close_for(sys._getframe(1))

    def _close_for(self, frame: FrameType) -> None:
        stack = self._open.stack
        if stack[-1][0] is not frame:
            return
        _, context = stack.pop()
        try:
            context.__exit__(None, None, None)
        except Exception:
            log.exception("could not put the kernel's loop back after a runner")
        with self._lock:
            self._unwind_watchers -= 1
            if self._unwind_watchers == 0:
                _monitoring.set_events(self._tool, 0)


def _claim_tool_id(monitoring: Any) -> int:
    """A free ``sys.monitoring`` tool id (3 and 4 are meant for tools like this one)."""
    for tool in (3, 4, 0, 1, 2, 5):
        if monitoring.get_tool(tool) is None:
            monitoring.use_tool_id(tool, TOOL_NAME)
            return tool
    msg = "every sys.monitoring tool id is taken"
    raise RuntimeError(msg)
