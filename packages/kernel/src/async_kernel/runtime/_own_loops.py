"""Letting a cell run code that runs an event loop of its own.

``asyncio.run``, ``loop.run_until_complete``, ``anyio.run``, ``trio.run`` and Playwright's
``sync_playwright()`` each refuse to start where an event loop already runs, and a cell's code
runs inside the kernel's loop (the main shell's in the main thread, a subshell's in its
thread, a ``# thread`` cell's in a worker thread). The cell's thread is blocked while such a
call runs, so the kernel's loop cannot be disturbed by a second loop in the same thread: only
the markers that say "a loop runs here" stand in the way.

So, while a cell's code is inside one of these calls (a *section*), the kernel hides its own
loop from the thread: asyncio's running-loop marker, sniffio's library name (thread-local and
the cell's context variable), the thread's Caller, trio's run state on the trio backend (a
hook of async-kernel-trio) and, for trio in the main thread, the signal wakeup descriptor. The
section puts them back when the call returns or raises.

Nothing of asyncio, anyio, trio or Playwright is patched. The cell compiler
(``shell._own_loop_calls``) routes each call site of a cell whose callee is *named* like a
runner (``run``, ``run_until_complete``, ...) through :func:`own_loop`, which looks at the
object actually called and, only for a runner called in a cell's thread where the kernel's
loop runs, calls it in a section. A library that starts a loop inside its own code is seen
on Python 3.12+ through ``sys.monitoring`` (``_runner_monitor``); 3.11 has no hook for a
function's start, so there its error gets a note that says to run it in a thread
(:func:`runner_error_hint`).

While a section runs, an interrupt for its cell goes to the innermost loop the section runs:
an asyncio loop gets a callback that raises ``KeyboardInterrupt`` (it also wakes the loop from
its selector, which an exception raised asynchronously in a thread does not), a trio run gets
its main task cancelled, reported as ``KeyboardInterrupt``. If the loop does not run that
callback soon (its code blocks), the interrupt controller falls back to raising in the thread.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import functools
import importlib.util
import os
import signal
import sys
import threading
from asyncio import events
from dataclasses import dataclass, field
from types import BuiltinMethodType, MethodType
from typing import TYPE_CHECKING, Any

import sniffio

from async_caller import Caller

from .._exceptions import KernelLoopInUseError
from ._backends import resolve_backend
from ._interrupts import InterruptController, current_cell

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterator
    from contextlib import AbstractContextManager
    from types import ModuleType


__all__ = [
    "HELPER_NAME",
    "LOOP_METHODS",
    "Section",
    "backend_hider",
    "close_sections_left_open",
    "enable_own_loops",
    "kernel_loop_here",
    "open_section",
    "open_sections",
    "own_loop",
    "runner_error_hint",
    "sections_open_here",
]

_KERNEL_LOOP_IN_USE = (
    "{what}() was called on the kernel's own event loop, which is running this cell: it "
    "cannot run again inside itself. In a cell, write `await coro` instead; to run the "
    "coroutine on a loop of its own, write `asyncio.run(coro)`."
)


@dataclass(slots=True, eq=False)
class Section:
    """One call into an own loop runner, in the cell's thread."""

    kind: str
    loop: asyncio.AbstractEventLoop | None = None
    """The asyncio loop this section runs, once it runs."""
    trio_cancel: Callable[[Callable[[], None]], object] | None = None
    """Cancels this section's trio run (any thread), once it runs; calls its argument there."""
    restore: list[Callable[[], object]] = field(default_factory=list)
    """What the outermost section puts back when it ends, last first."""


class _ThreadSections(threading.local):
    def __init__(self) -> None:
        self.stack: list[Section] = []


_sections = _ThreadSections()
open_sections = 0
"""Sections open in any thread: the end of a cell reads it (no call on the hot path) and calls
:func:`close_sections_left_open` only when it is not 0."""
_count_lock = threading.Lock()


class _InnerLoopInterrupt:
    """Interrupts the innermost own loop of one thread's sections (any thread)."""

    def __init__(self, stack: list[Section]) -> None:
        self._stack = stack
        self._landed = False
        self._thread_id = threading.get_ident()

    def interrupt(self) -> bool:
        """Ask the innermost running loop to stop with KeyboardInterrupt; False if none runs."""
        for section in reversed(list(self._stack)):
            if section.trio_cancel is not None:
                try:
                    section.trio_cancel(self._mark_landed)
                except Exception:  # noqa: BLE001 - the run ended meanwhile: interrupt the thread
                    return False
                return True
            loop = section.loop
            if loop is not None:
                try:
                    loop.call_soon_threadsafe(self._raise_in_loop)
                except RuntimeError:  # closed meanwhile
                    return False
                return True
        return False

    def landed(self) -> bool:
        """Whether the inner loop ran the interrupt (it is not blocked)."""
        return self._landed

    def in_loop_code(self) -> bool:
        """Whether the thread runs an event loop's own code (idle in its selector, say)."""
        frame = sys._current_frames().get(self._thread_id)
        return frame is not None and frame.f_code.co_filename.startswith(_loop_code())

    def _mark_landed(self) -> None:
        self._landed = True

    def _raise_in_loop(self) -> None:
        self._landed = True
        raise KeyboardInterrupt


@functools.cache
def _loop_code() -> tuple[str, ...]:
    """Where an event loop's own code lives: a thread found there is not blocked in a cell's code.

    Looked up at the first interrupt of an inner loop, not at start-up.
    """
    dirs: list[str] = []
    for name in ("asyncio", "selectors", "trio", "anyio", "outcome", "greenlet"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            dirs.extend(os.path.join(folder, "") for folder in spec.submodule_search_locations)
        elif spec is not None and spec.origin:
            dirs.append(spec.origin)
    return tuple(dirs)


class _OwnLoops:
    """What the wrappers need from the kernel; one per process."""

    def __init__(
        self,
        interrupts: InterruptController | None,
        hide_backend: Callable[[], AbstractContextManager[object] | None],
    ) -> None:
        self.interrupts = interrupts
        self.hide_backend = hide_backend


_kernel: _OwnLoops | None = None


def kernel_loop_here() -> bool:
    """Whether the calling code runs in a cell, in a thread where a loop is marked running."""
    if current_cell.get() is None:
        return False
    return (
        bool(_sections.stack)
        or events._get_running_loop() is not None
        or sniffio.thread_local.name is not None
    )


@contextlib.contextmanager
def open_section(kind: str) -> Iterator[Section]:
    """Run the block as a section (the cell's thread); the outermost hides the kernel's loop."""
    global open_sections
    stack = _sections.stack
    section = Section(kind)
    if not stack:
        try:
            _hide_kernel_loop(section)
        except BaseException:
            for restore in reversed(section.restore):
                restore()
            raise
        with _count_lock:
            open_sections += 1
    stack.append(section)
    try:
        yield section
    finally:
        _end(section)


def sections_open_here() -> Section | None:
    """The innermost section open in the calling thread, or None."""
    stack = _sections.stack
    return stack[-1] if stack else None


def _end(section: Section) -> None:
    global open_sections
    stack = _sections.stack
    while stack:
        ended = stack.pop()
        if ended is section:
            break
    if section.restore:
        for restore in reversed(section.restore):
            restore()
        with _count_lock:
            open_sections -= 1


def _hide_kernel_loop(section: Section) -> None:
    """Hide this thread's kernel loop; record in ``section`` how to put it back."""
    restore = section.restore
    loop = events._get_running_loop()
    if loop is not None:
        events._set_running_loop(None)

        def put_loop_back(loop: asyncio.AbstractEventLoop = loop) -> None:
            events._set_running_loop(loop)
            # An inner asyncio.run leaves the thread with no current event loop.
            events.set_event_loop(loop)

        restore.append(put_loop_back)
    library = sniffio.thread_local.name
    if library is not None:
        sniffio.thread_local.name = None
        restore.append(functools.partial(setattr, sniffio.thread_local, "name", library))
    in_context = sniffio.current_async_library_cvar.get()
    if in_context is not None:
        sniffio.current_async_library_cvar.set(None)
        restore.append(functools.partial(sniffio.current_async_library_cvar.set, in_context))
    callers = Caller._by_thread  # no public way to step aside (async_caller is ours)
    ident = threading.get_ident()
    caller = callers.pop(ident, None)
    if caller is not None:
        restore.append(functools.partial(callers.__setitem__, ident, caller))
    kernel = _kernel
    if kernel is None:
        return
    if library is not None:
        hidden = kernel.hide_backend()
        if hidden is not None:
            hidden.__enter__()
            restore.append(lambda: hidden.__exit__(None, None, None))
    state = current_cell.get()
    if kernel.interrupts is not None and state is not None:
        redirect = _InnerLoopInterrupt(_sections.stack)
        undo = kernel.interrupts.redirect(state, redirect)
        restore.append(undo)


def close_sections_left_open() -> None:
    """Put the kernel's loop back if the cell left a section open (the cell's thread).

    Only Playwright's sync context manager keeps a section open between statements (from
    ``__enter__`` to ``__exit__``); a cell that never calls ``__exit__`` would leave the
    kernel's loop hidden. A cell's end calls it when :data:`open_sections` is not 0.
    """
    stack = _sections.stack
    while stack:
        _end(stack[0])


# --- the runners a cell calls ------------------------------------------------------------------

HELPER_NAME = "__async_kernel_own_loop__"
"""The builtin that call sites of cells go through (see ``shell._own_loop_calls``)."""


def own_loop(func: Any) -> Any:
    """What a cell's call site calls in place of ``func`` (the cell's thread).

    ``func`` itself, unless it is an event-loop runner called from a cell's thread where the
    kernel's loop runs: then a function that calls it in a section. Nothing is patched: the
    cell compiler routes only the cell's own call sites named like a runner through here.
    """
    if current_cell.get() is None:
        return func
    try:
        wrapper = _section_wrapper(func)
    except Exception:  # noqa: BLE001 - an odd callable is never a runner: call it as written
        return func
    if wrapper is None or not kernel_loop_here():
        return func
    return wrapper


def _section_wrapper(func: Any) -> Callable[..., Any] | None:
    """How to call ``func`` in a section, or None if it runs no loop of its own."""
    kind = type(func)
    if kind is MethodType or kind is BuiltinMethodType:
        owner = func.__self__
        name = func.__name__
        if isinstance(owner, asyncio.AbstractEventLoop) and name in LOOP_METHODS:
            return functools.partial(_run_loop_method, func, owner, name)
        if isinstance(owner, asyncio.Runner) and name == "run":
            return functools.partial(_run_coroutine, func, "asyncio.Runner.run")
        return None
    if func is asyncio.runners.run:
        return functools.partial(_run_coroutine, func, "asyncio.run")
    for module_name, attribute, make in _MODULE_RUNNERS:
        module = sys.modules.get(module_name)
        if module is not None and func is getattr(module, attribute, None):
            return make(func, module)
    return None


LOOP_METHODS = ("run_until_complete", "run_forever")
"""The event loop methods that run a loop (kinds of section too)."""


def _run_coroutine(func: Callable[..., Any], kind: str, main: Any, /, **kwargs: Any) -> Any:
    """``asyncio.run(main)`` or ``runner.run(main)`` in a section that knows the inner loop."""
    if not asyncio.iscoroutine(main):
        return func(main, **kwargs)  # the runner's own error
    with open_section(kind) as section:
        return func(_reporting_loop(section, main), **kwargs)


async def _reporting_loop(section: Section, main: Coroutine[Any, Any, Any]) -> Any:
    """Await ``main``, having told ``section`` which loop runs it (for interrupts)."""
    section.loop = asyncio.get_running_loop()
    return await main


def _reporting_run(section: Section, async_fn: Callable[..., Any]) -> Callable[..., Any]:
    """``async_fn`` for ``anyio.run`` or ``trio.run``: tells ``section`` how to interrupt it."""

    async def run(*args: Any) -> Any:
        if sniffio.current_async_library() != "trio":
            section.loop = asyncio.get_running_loop()
            return await async_fn(*args)
        trio: Any = sys.modules["trio"]
        interrupted = threading.Event()
        token = trio.lowlevel.current_trio_token()
        with trio.CancelScope() as scope:

            def cancel(landed: Callable[[], None]) -> None:
                interrupted.set()

                def in_trio() -> None:
                    landed()
                    scope.cancel()

                token.run_sync_soon(in_trio)

            section.trio_cancel = cancel
            result = await async_fn(*args)
        if scope.cancelled_caught and interrupted.is_set():
            raise KeyboardInterrupt
        return result

    return functools.update_wrapper(run, async_fn)


def _run_loop_method(
    func: Callable[..., Any], loop: asyncio.AbstractEventLoop, what: str, *args: Any, **kwargs: Any
) -> Any:
    if not _sections.stack and loop is events._get_running_loop():
        raise KernelLoopInUseError(_KERNEL_LOOP_IN_USE.format(what=f"loop.{what}"))
    with open_section(what) as section:
        section.loop = loop
        return func(*args, **kwargs)


def _trio_runner(run: Callable[..., Any], module: ModuleType) -> Callable[..., Any]:
    """``trio.run`` in a section whose interrupt cancels the run's main task."""
    del module

    def run_in_section(async_fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with open_section("trio.run") as section, _no_wakeup_fd_in_main_thread():
            return run(_reporting_run(section, async_fn), *args, **kwargs)

    return run_in_section


def _anyio_runner(run: Callable[..., Any], module: ModuleType) -> Callable[..., Any]:
    """``anyio.run`` in a section, on either of its backends."""
    del module

    def run_in_section(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        on_trio = kwargs.get("backend", "asyncio") == "trio"
        with (
            open_section("anyio.run") as section,
            _no_wakeup_fd_in_main_thread() if on_trio else contextlib.nullcontext(),
        ):
            return run(_reporting_run(section, func), *args, **kwargs)

    return run_in_section


@contextlib.contextmanager
def _no_wakeup_fd_in_main_thread() -> Iterator[None]:
    """Give trio's run the main thread's signal wakeup descriptor for its duration.

    trio installs its own and warns about "colliding signal handling" when one was set (the
    kernel's signal watcher's); it puts back what it found when it ends.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.set_wakeup_fd(-1)
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous, warn_on_full_buffer=False)


class _PlaywrightSection:
    """What ``sync_playwright()`` gives a cell: its context manager inside a section.

    Playwright runs its loop in a greenlet and marks it running in the thread between its
    calls, so the section lasts from ``__enter__`` (or ``start()``) to ``__exit__``.
    """

    def __init__(self, manager: Any) -> None:
        self._manager = manager
        self._section: AbstractContextManager[Section] | None = None

    def __enter__(self) -> Any:
        section = open_section("sync_playwright")
        section.__enter__()
        self._section = section
        try:
            return self._manager.__enter__()
        except BaseException:
            self._close()
            raise

    def start(self) -> Any:
        """Playwright's ``start()``: the section stays open until ``stop()`` or the cell ends."""
        playwright = self.__enter__()
        manager_exit = self.__exit__

        def stop() -> None:
            manager_exit(None, None, None)

        playwright.stop = stop
        return playwright

    def __exit__(self, *exc_info: object) -> Any:
        try:
            return self._manager.__exit__(*exc_info)
        finally:
            self._close()

    def _close(self) -> None:
        section, self._section = self._section, None
        if section is not None:
            section.__exit__(None, None, None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager, name)


def _playwright_runner(
    sync_playwright: Callable[..., Any], module: ModuleType
) -> Callable[..., Any]:
    del module
    return lambda *args, **kwargs: _PlaywrightSection(sync_playwright(*args, **kwargs))


NEST_ASYNCIO_NOT_NEEDED = (
    "{name}.apply() is not needed in async-kernel and was skipped: asyncio.run() and "
    "loop.run_until_complete() work in cells as they are. Remove the call.\n"
)


def _nest_asyncio_skip(apply: Callable[..., Any], module: ModuleType) -> Callable[..., Any]:
    """``nest_asyncio.apply()`` answered with a note: it would make the kernel's loop reentrant.

    Old notebooks call it first thing; it would patch asyncio for the whole process.
    """
    del apply
    name = module.__name__

    def skip(*args: object, **kwargs: object) -> None:
        del args, kwargs
        sys.stderr.write(NEST_ASYNCIO_NOT_NEEDED.format(name=name))

    return skip


_MODULE_RUNNERS: tuple[
    tuple[str, str, Callable[[Callable[..., Any], ModuleType], Callable[..., Any]]], ...
] = (
    ("anyio", "run", _anyio_runner),
    ("trio", "run", _trio_runner),
    ("playwright.sync_api", "sync_playwright", _playwright_runner),
    ("nest_asyncio", "apply", _nest_asyncio_skip),
    ("nest_asyncio2", "apply", _nest_asyncio_skip),
)
"""Runners of modules imported by the time a cell calls them: (module, name, wrapper maker)."""


RUNNER_IN_LIBRARY_HINT = (
    "Note: an event loop was started here while the kernel's loop runs this cell. "
    "asyncio.run(), loop.run_until_complete(), anyio.run() and trio.run() work when the cell's "
    "own code calls them by those names; this one was called from inside a library or under "
    "another name. Run such a call in a thread with no loop of its own: "
    "`await asyncio.to_thread(func, ...)`.\n"
)
_RUNNER_ERRORS = (
    "cannot be called from a running event loop",
    "Cannot run the event loop while another loop is running",
    "Already running asyncio in this thread",
    "Attempted to call run() from inside a run()",
    "It looks like you are using Playwright Sync API inside the asyncio loop",
)


def runner_error_hint(ename: str, evalue: str) -> str | None:
    """A note for a cell that failed because a library it called started a loop, or None."""
    if ename not in ("RuntimeError", "Error") or not any(t in evalue for t in _RUNNER_ERRORS):
        return None
    return RUNNER_IN_LIBRARY_HINT


def backend_hider(backend: str) -> Callable[[], AbstractContextManager[object] | None]:
    """What hides ``backend``'s run state in a thread; the backend is looked up at first use."""
    hook: list[Callable[[], AbstractContextManager[object]] | None] = []

    def hide() -> AbstractContextManager[object] | None:
        if not hook:
            hook.append(resolve_backend(backend).hide_running_loop)
        return None if hook[0] is None else hook[0]()

    return hide


def enable_own_loops(
    interrupts: InterruptController | None,
    hide_backend: Callable[[], AbstractContextManager[object] | None] = lambda: None,
) -> Callable[[], None]:
    """Let cells run their own loops (kernel start, main thread); patches nothing.

    Adds the builtin :data:`HELPER_NAME` that the cell compiler's call sites use, and records
    the kernel's hooks.

    Args:
        interrupts: where a section redirects its cell's interrupts; None without threads.
        hide_backend: returns what hides the kernel backend's own run state in the calling
            thread while a section runs (trio's, from async-kernel-trio), or None; see
            :func:`backend_hider`.

    Returns:
        What undoes it (the kernel calls it when it stops); a no-op for a second kernel in the
        same process, whose cells the first kernel's hooks serve.
    """
    global _kernel
    if _kernel is not None:
        return lambda: None
    _kernel = _OwnLoops(interrupts, hide_backend)
    added = not hasattr(builtins, HELPER_NAME)
    if added:
        setattr(builtins, HELPER_NAME, own_loop)

    def disable() -> None:
        global _kernel
        _kernel = None
        if added and getattr(builtins, HELPER_NAME, None) is own_loop:
            delattr(builtins, HELPER_NAME)

    return disable
