"""What the integrations use from the kernel; typed structurally so the core stays private."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from async_caller import Caller

__all__ = ["KernelLike"]


class KernelLike(Protocol):
    """The part of async-kernel's ``Kernel`` that GUI integrations need."""

    @property
    def main_caller(self) -> Caller:
        """The Caller of the main thread's event loop, where toolkits live."""
        ...
