"""What the debugger gets instead of the kernel: something that replies and publishes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..messaging._message import Message

__all__ = ["Sender"]


class Sender(Protocol):
    """Replies to ``debug_request`` and publishes ``debug_event`` (any thread)."""

    def reply(
        self,
        request: Message,
        msg_type: str,
        content: dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Send a reply to ``request`` on the channel it came from."""
        ...

    def publish(
        self,
        msg_type: str,
        content: dict[str, Any],
        parent: Message | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Send a message on iopub."""
        ...
