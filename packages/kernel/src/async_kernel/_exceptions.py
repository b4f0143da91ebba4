"""Exceptions raised by async-kernel."""

from __future__ import annotations

import async_caller


class KernelError(Exception):
    """Base class of the errors async-kernel raises on purpose."""


class UnknownBackendError(KernelError, async_caller.UnknownBackendError):
    """No kernel backend is registered under the requested name.

    A kind of async_caller's own ``UnknownBackendError`` (an event loop it cannot run), so
    code that catches that one catches this too.
    """


class GuiError(KernelError, RuntimeError):
    """A GUI integration could not be switched on.

    A cell shows it as one line, without a traceback through IPython's magics: the message
    says what to do.
    """

    def _render_traceback_(self) -> list[str]:
        """IPython hook: the lines a cell's error shows instead of a traceback."""
        return [f"{type(self).__name__}: {self}"]


class UnknownGuiError(GuiError, LookupError):
    """No GUI integration is registered under the requested name; the message lists them."""


class GuiUnavailableError(GuiError, ImportError):
    """A GUI integration needs a package that is not installed; the message names it."""


class KernelLoopInUseError(KernelError, RuntimeError):
    """A cell asked the kernel's own running event loop to run again inside itself.

    ``asyncio.get_event_loop().run_until_complete(coro)`` in a cell names the loop that runs
    the cell. The message says what to write instead: ``await coro``, or ``asyncio.run(coro)``
    for a loop of its own.
    """
