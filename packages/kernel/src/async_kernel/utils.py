"""Helpers for code running in a cell: the kernel, the request being handled, its subshell.

Everything here answers for the code that calls it: the request and subshell travel with the
cell's tasks and threads in context variables, so a ``# task`` cell, a thread the cell started
and a cell in a subshell each get their own answer.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from ._exceptions import KernelError
from .runtime._context import current_request
from .shell._subshell import current_subshell

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ._kernel import Kernel

__all__ = [
    "NoKernelError",
    "get_kernel",
    "get_metadata",
    "get_parent_message",
    "get_subshell_id",
    "get_tags",
    "subshell_context",
]


class NoKernelError(KernelError, RuntimeError):
    """No async-kernel runs in this process (the code runs outside a kernel)."""


def get_kernel() -> Kernel:
    """Return the kernel running in this process.

    Raises:
        NoKernelError: the code does not run in an async-kernel.
    """
    from .shell._shell import KernelShell

    kernel: Any = KernelShell.instance().kernel if KernelShell.initialized() else None
    if kernel is None:
        raise NoKernelError("no async-kernel runs in this process: call this from code a cell runs")
    return kernel


def get_parent_message() -> dict[str, Any] | None:
    """Return the request the calling code runs for (header, content, metadata...), or None.

    For a cell, that is its ``execute_request``; for a widget callback, the ``comm_msg``.
    """
    request = current_request.get()
    if request is None:
        return None
    return {
        "header": request.header,
        "parent_header": request.parent_header,
        "metadata": request.metadata,
        "content": request.content,
        "msg_id": request.msg_id,
        "msg_type": request.msg_type,
        "channel": str(request.channel),
    }


def get_subshell_id() -> str | None:
    """Return the id of the subshell the calling code runs in; None for the main shell."""
    subshell = current_subshell.get()
    return None if subshell is None else subshell.subshell_id


def get_metadata() -> dict[str, Any]:
    """Return the metadata of the request the calling code runs for (empty if none)."""
    request = current_request.get()
    return {} if request is None else dict(request.metadata)


def get_tags() -> list[str]:
    """Return the cell tags of the running cell (the request's ``metadata.tags``)."""
    tags = get_metadata().get("tags")
    return [tag for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else []


@contextlib.contextmanager
def subshell_context(subshell_id: str | None) -> Iterator[None]:
    """Run the block as if in subshell ``subshell_id`` (None: the main shell).

    The shell's namespace, execution count and history are the subshell's inside the block:
    ``get_ipython().user_ns``, ``run_line_magic`` and :func:`get_subshell_id` see it. The
    block's own assignments stay where the cell's code lives.

    Raises:
        UnknownSubshellError: no subshell has that id.
    """
    subshell = None
    if subshell_id is not None:
        from .handlers._subshells import UnknownSubshellError

        subshell = get_kernel().subshells.get(subshell_id)
        if subshell is None:
            raise UnknownSubshellError(subshell_id)
    token = current_subshell.set(subshell)
    try:
        yield
    finally:
        current_subshell.reset(token)
