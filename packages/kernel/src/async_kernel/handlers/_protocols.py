"""What handlers get instead of the kernel: the narrow collaborators they use, as Protocols.

The composition root (``_kernel``) passes the real objects: the :class:`~..runtime._outbox.
Outbox` for :class:`Sender`, the ``InterruptController`` for :class:`CellInterrupts`. A
handler can then be built in a test with any object of the right shape, and reading its
constructor says everything it can reach.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from contextlib import AbstractContextManager
    from types import CoroutineType

    from ..messaging._message import Message
    from ..runtime._cell_state import CellState
    from ..runtime._interrupts import RunningCell

__all__ = ["CellInterrupts", "RequestArrivals", "Sender"]


class Sender(Protocol):
    """Replies to requests and publishes on iopub (any thread)."""

    def reply(
        self,
        request: Message,
        msg_type: str,
        content: dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Send a reply to ``request`` on the channel it came from."""
        ...

    def reply_error(
        self, request: Message, ename: str, evalue: str, traceback: Sequence[str] = ()
    ) -> None:
        """Send ``request``'s reply type with status ``error``."""
        ...

    def publish(
        self,
        msg_type: str,
        content: dict[str, Any],
        parent: Message | None = None,
        metadata: dict[str, Any] | None = None,
        buffers: Sequence[bytes | memoryview] = (),
        *,
        urgent: bool = False,
    ) -> None:
        """Send a message on iopub, by default as a child of the current request."""
        ...

    def flush_streams(self) -> None:
        """Publish buffered stdout and stderr."""
        ...


class CellInterrupts(Protocol):
    """Registers running cells so an interrupt can reach them, and interrupts them."""

    def running(
        self,
        state: CellState,
        coroutine: CoroutineType[Any, Any, Any] | None,
        cancel: Callable[[], object],
        cancel_landed: Callable[[], bool],
    ) -> AbstractContextManager[RunningCell]:
        """Register a cell as interruptible while the block runs (the cell's own thread)."""
        ...

    def interrupt(self, which: Callable[[RunningCell], bool] | None = None) -> int:
        """Interrupt every running cell, or those ``which`` picks; return how many."""
        ...


class RequestArrivals(Protocol):
    """How far the kernel has read its shell channel."""

    async def received_so_far(self) -> int:
        """Return the arrival number of the latest request, after reading what is waiting."""
        ...
