"""What the kernel tracks while one cell runs, and the context variable that finds it."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..messaging._message import Message

__all__ = ["CellState", "current_cell"]


@dataclass(slots=True)
class CellState:
    """What the kernel tracks while one cell runs: its error and whether it was interrupted."""

    request: Message
    execution_count: int
    error: dict[str, Any] | None = None
    interrupted: bool = False
    cancelled_exc_class: type[BaseException] | None = None
    payload: list[dict[str, Any]] = field(default_factory=list)


current_cell: ContextVar[CellState | None] = ContextVar("async_kernel_cell", default=None)
"""The cell the current code runs in, if any."""
