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
section puts them back when the call returns or raises. Outside a cell, and in threads where
no kernel loop runs, each entry point calls straight through to the original.

Python 3.11 has no hook that fires when a given function starts (``sys.monitoring`` came in
3.12), so the entry points are wrapped at kernel start, and put back when it stops: ``asyncio.run``,
``asyncio.Runner.run``, ``BaseEventLoop.run_until_complete`` / ``run_forever``, ``anyio.run``,
and, when they are imported, ``trio.run`` and Playwright's sync context manager. A wrapper does
nothing but call the original unless it is called from a cell's thread where the kernel's loop
is marked running.

While a section runs, an interrupt for its cell goes to the innermost loop the section runs:
an asyncio loop gets a callback that raises ``KeyboardInterrupt`` (it also wakes the loop from
its selector, which an exception raised asynchronously in a thread does not), a trio run gets
its main task cancelled, reported as ``KeyboardInterrupt``. If the loop does not run that
callback soon (its code blocks), the interrupt controller falls back to raising in the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.abc
import importlib.util
import os
import signal
import sys
import threading
from asyncio import events
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sniffio

from async_caller import Caller

from .._exceptions import KernelLoopInUseError
from ._backends import resolve_backend
from ._interrupts import InterruptController, current_cell

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from contextlib import AbstractContextManager
    from importlib.machinery import ModuleSpec
    from types import ModuleType


__all__ = ["backend_hider", "close_sections_left_open", "install_own_loops", "open_sections"]

_KERNEL_LOOP_IN_USE = (
    "{what}() was called on the kernel's own event loop, which is running this cell: it "
    "cannot run again inside itself. In a cell, write `await coro` instead; to run the "
    "coroutine on a loop of its own, write `asyncio.run(coro)`."
)


@dataclass(slots=True, eq=False)
class _Section:
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
        self.stack: list[_Section] = []


_sections = _ThreadSections()
open_sections = 0
"""Sections open in any thread: the end of a cell reads it (no call on the hot path) and calls
:func:`close_sections_left_open` only when it is not 0."""
_count_lock = threading.Lock()


class _InnerLoopInterrupt:
    """Interrupts the innermost own loop of one thread's sections (any thread)."""

    def __init__(self, stack: list[_Section]) -> None:
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


def _kernel_loop_here() -> bool:
    """Whether the calling code runs in a cell, in a thread where a loop is marked running."""
    if current_cell.get() is None:
        return False
    return (
        bool(_sections.stack)
        or events._get_running_loop() is not None
        or sniffio.thread_local.name is not None
    )


@contextlib.contextmanager
def _section(kind: str) -> Iterator[_Section]:
    """Run the block as a section (the cell's thread); the outermost hides the kernel's loop."""
    global open_sections
    stack = _sections.stack
    section = _Section(kind)
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


def _end(section: _Section) -> None:
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


def _hide_kernel_loop(section: _Section) -> None:
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


# --- the wrapped entry points ------------------------------------------------------------------


def _wrap_runner(original: Callable[..., Any], kind: str) -> Callable[..., Any]:
    @functools.wraps(original)
    def run(*args: Any, **kwargs: Any) -> Any:
        if not _kernel_loop_here():
            return original(*args, **kwargs)
        with _section(kind):
            return original(*args, **kwargs)

    return run


def _wrap_loop_method(original: Callable[..., Any], what: str) -> Callable[..., Any]:
    @functools.wraps(original)
    def run(self: asyncio.AbstractEventLoop, *args: Any, **kwargs: Any) -> Any:
        if not _kernel_loop_here():
            return original(self, *args, **kwargs)
        if not _sections.stack and self is events._get_running_loop():
            raise KernelLoopInUseError(_KERNEL_LOOP_IN_USE.format(what=f"loop.{what}"))
        with _section(what) as section:
            section.loop = self
            return original(self, *args, **kwargs)

    return run


def _wrap_trio_run(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def run(async_fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not _kernel_loop_here():
            return original(async_fn, *args, **kwargs)
        trio: Any = sys.modules["trio"]
        with _section("trio.run") as section, _no_wakeup_fd_in_main_thread():
            interrupted = threading.Event()

            async def guarded(*inner_args: Any) -> Any:
                token = trio.lowlevel.current_trio_token()
                with trio.CancelScope() as scope:

                    def cancel(landed: Callable[[], None]) -> None:
                        interrupted.set()

                        def in_trio() -> None:
                            landed()
                            scope.cancel()

                        token.run_sync_soon(in_trio)

                    section.trio_cancel = cancel
                    result = await async_fn(*inner_args)
                if scope.cancelled_caught and interrupted.is_set():
                    raise KeyboardInterrupt
                return result

            functools.update_wrapper(guarded, async_fn)
            return original(guarded, *args, **kwargs)

    return run


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


def _wrap_playwright(manager: Any) -> None:
    """Keep a section open from ``sync_playwright().__enter__`` to its ``__exit__``.

    Playwright runs its loop in a greenlet and marks it running in the thread between its
    calls, so the kernel's loop stays hidden for the whole ``with`` block.
    """
    enter = manager.__enter__
    leave = manager.__exit__

    @functools.wraps(enter)
    def __enter__(self: Any) -> Any:
        if not _kernel_loop_here():
            return enter(self)
        context = _section("sync_playwright")
        context.__enter__()
        self.__async_kernel_section__ = context
        try:
            return enter(self)
        except BaseException:
            del self.__async_kernel_section__
            context.__exit__(None, None, None)
            raise

    @functools.wraps(leave)
    def __exit__(self: Any, *args: Any) -> Any:
        context = self.__dict__.pop("__async_kernel_section__", None)
        try:
            return leave(self, *args)
        finally:
            if context is not None:
                context.__exit__(None, None, None)

    _patch(manager, "__enter__", __enter__)
    _patch(manager, "__exit__", __exit__)


def _wrap_trio(module: ModuleType) -> None:
    _patch(module, "run", _wrap_trio_run(module.run))


def _wrap_playwright_module(module: ModuleType) -> None:
    _wrap_playwright(module.PlaywrightContextManager)


NEST_ASYNCIO_NOT_NEEDED = (
    "{name}.apply() is not needed in async-kernel and was skipped: asyncio.run() and "
    "loop.run_until_complete() work in cells as they are. Remove the call.\n"
)


def _skip_nest_asyncio(module: ModuleType) -> None:
    """Make ``nest_asyncio.apply()`` a no-op that says it is not needed.

    It would patch asyncio for the whole process and make the kernel's own loop reentrant;
    old notebooks call it first thing, so the call is answered with a note instead of an error.
    """
    name = module.__name__

    def apply(*args: object, **kwargs: object) -> None:
        del args, kwargs
        sys.stderr.write(NEST_ASYNCIO_NOT_NEEDED.format(name=name))

    apply.__doc__ = "Do nothing: the kernel runs nested event loops by itself."
    _patch(module, "apply", apply)


_ON_IMPORT: dict[str, Callable[[ModuleType], None]] = {
    "trio": _wrap_trio,
    "playwright.sync_api._context_manager": _wrap_playwright_module,
    "nest_asyncio": _skip_nest_asyncio,
    "nest_asyncio2": _skip_nest_asyncio,
}
"""Modules whose runners are wrapped once they are imported."""


class _WrapOnImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Wraps a module's runners right after the module runs (at its first import)."""

    def __init__(self, pending: dict[str, Callable[[ModuleType], None]]) -> None:
        self._pending = pending
        self._loaders: dict[str, importlib.abc.Loader] = {}

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        del path, target
        if fullname not in self._pending:
            return None
        wrap = self._pending.pop(fullname)
        if not self._pending:
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original_exec(module)
            wrap(module)

        spec.loader = _ExecThen(loader, exec_module)
        return spec


class _ExecThen(importlib.abc.Loader):
    """A loader that runs a module with another loader, then one more step."""

    def __init__(self, loader: importlib.abc.Loader, exec_module: Callable[[ModuleType], None]):
        self._loader = loader
        self._exec_module = exec_module

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._exec_module(module)


def backend_hider(backend: str) -> Callable[[], AbstractContextManager[object] | None]:
    """What hides ``backend``'s run state in a thread; the backend is looked up at first use."""
    hook: list[Callable[[], AbstractContextManager[object]] | None] = []

    def hide() -> AbstractContextManager[object] | None:
        if not hook:
            hook.append(resolve_backend(backend).hide_running_loop)
        return None if hook[0] is None else hook[0]()

    return hide


def install_own_loops(
    interrupts: InterruptController | None,
    hide_backend: Callable[[], AbstractContextManager[object] | None] = lambda: None,
) -> Callable[[], None]:
    """Wrap the runners of asyncio, anyio, trio and Playwright (kernel start, main thread).

    Args:
        interrupts: where a section redirects its cell's interrupts; None without threads.
        hide_backend: returns what hides the kernel backend's own run state in the calling
            thread while a section runs (trio's, from async-kernel-trio), or None; see
            :func:`backend_hider`.

    Returns:
        What puts every original back (the kernel calls it when it stops); a no-op for a
        second kernel in the same process, whose cells the first kernel's wrappers serve.
    """
    global _kernel
    if _kernel is not None:  # a second kernel in this process: the first one's stays
        return lambda: None
    _kernel = _OwnLoops(interrupts, hide_backend)
    _patch(asyncio, "run", _wrap_runner(asyncio.runners.run, "asyncio.run"))
    _patch(asyncio.runners, "run", asyncio.run)
    runner_class = asyncio.runners.Runner
    _patch(runner_class, "run", _wrap_runner(runner_class.run, "asyncio.Runner.run"))
    loop_class = asyncio.base_events.BaseEventLoop
    for name in ("run_until_complete", "run_forever"):
        _patch(loop_class, name, _wrap_loop_method(getattr(loop_class, name), name))
    import anyio
    from anyio._core import _eventloop

    _patch(anyio, "run", _wrap_runner(_eventloop.run, "anyio.run"))
    _patch(_eventloop, "run", anyio.run)
    pending = dict(_ON_IMPORT)
    for name in list(pending):
        module = sys.modules.get(name)
        if module is not None:
            pending.pop(name)(module)
    finder = _WrapOnImport(pending) if pending else None
    if finder is not None:
        sys.meta_path.insert(0, finder)

    def uninstall() -> None:
        global _kernel
        if finder is not None:
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(finder)
        while _patched:
            owner, name, previous = _patched.pop()
            setattr(owner, name, previous)
        _kernel = None

    return uninstall


_patched: list[tuple[object, str, object]] = []
"""What the kernel replaced, with what was there before, in order."""


def _patch(owner: object, name: str, value: object) -> None:
    _patched.append((owner, name, getattr(owner, name)))
    setattr(owner, name, value)
