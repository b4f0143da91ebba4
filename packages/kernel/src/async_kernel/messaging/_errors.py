"""Errors of the wire format: a message or a connection file the kernel cannot use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._exceptions import KernelError

if TYPE_CHECKING:
    from ._message import Message

__all__ = ["ConnectionFileError", "InvalidMessageError"]


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
