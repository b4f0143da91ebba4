"""What handlers get instead of the kernel: the narrow collaborators they use, as Protocols.

The composition root (``_kernel``) passes the real objects: the runtime's ``Outbox`` for
:class:`Sender` (defined next to it, and shared with the debugger and the shell), the
``InterruptController`` for :class:`CellInterrupts`. A
handler can then be built in a test with any object of the right shape, and reading its
constructor says everything it can reach.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..runtime._outbox import Sender

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from types import CoroutineType

    from ..runtime._interrupts import CellState, RunningCell

__all__ = ["CellInterrupts", "RequestArrivals", "Sender"]


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
