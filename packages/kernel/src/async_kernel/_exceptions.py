"""Exceptions raised by async-kernel."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .messaging._message import Message


class KernelError(Exception):
    """Base class of the errors async-kernel raises on purpose."""


class InvalidMessageError(KernelError, ValueError):
    """A message from the wire could not be decoded or failed its signature check.

    The kernel logs it and drops or answers it; it never stops the kernel. ``request`` is
    set when the signature and header were good but another part was not: the sender is known
    and can be sent an error reply (its content is then empty).
    """

    def __init__(self, text: str, request: Message | None = None) -> None:
        super().__init__(text)
        self.request = request


class ConnectionFileError(KernelError, ValueError):
    """A connection file is missing, unreadable or lacks a required field."""


class UnknownBackendError(KernelError, LookupError):
    """No kernel backend is registered under the requested name."""


class StdinNotAllowedError(KernelError, RuntimeError):
    """The frontend did not allow input for this request (allow_stdin was false)."""


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
