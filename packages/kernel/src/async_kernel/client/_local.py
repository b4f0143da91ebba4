"""`LocalClient`: a client of the running kernel, from a cell, with no sockets.

Requests go in as a wire message would, through the kernel's callable interface
(``Kernel.receive_local``, handled by the IO thread like any other); replies and iopub
output come back through a callback (``messaging._local_routes``). So a cell can drive its own
kernel: run code in a subshell, ask for completions, interrupt, as a frontend would.

A queued cell holds its shell's queue until it ends, so an ``execute_request`` it sent to its
own shell would wait behind it forever: the client refuses that and says to use a ``# task``
cell, which runs beside the queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from ..runtime._interrupts import current_cell
from ..shell._subshell import current_subshell
from ..utils import get_kernel
from ._base import ClientError, KernelClient, decode_frames

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

    from .._kernel import Kernel
    from ..messaging._message import Channel

__all__ = ["LocalClient"]


class LocalClient(KernelClient):
    """A client of the kernel this code runs in; use it in a ``# task`` cell.

    Use as ``async with LocalClient() as client:``, then ``await client.execute(...)`` and the
    other requests of `KernelClient`; on asyncio or trio, whichever the cell runs on.

    Raises:
        NoKernelError: not inside a kernel.
        ClientError: entered from a queued cell of the shell it would send cells to.
    """

    def __init__(self, kernel: Kernel | None = None) -> None:
        self._kernel = kernel or get_kernel()
        super().__init__(self._kernel.codec)
        self._identity: bytes | None = None

    async def __aenter__(self) -> Self:
        """Connect to the kernel: from now on its replies and output reach this client."""
        cell = current_cell.get()
        if cell is not None and cell.queued:
            raise ClientError(
                "LocalClient in a queued cell: its requests to this shell would wait behind "
                "this very cell, which waits for them. Put '# task' on the cell's first line "
                "(or give it the cell tag 'task') so it runs beside the queue"
            )
        self._identity = self._kernel.local.add(self._deliver)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Disconnect; replies still on their way are dropped."""
        self.close()

    def close(self) -> None:
        """Disconnect from the kernel (idempotent)."""
        if self._identity is not None:
            self._kernel.local.remove(self._identity)
            self._identity = None

    def _check_usable(self) -> None:
        if self._identity is None:
            raise ClientError("the LocalClient is not connected: use it in 'async with'")

    async def execute(self, code: str, **options: Any) -> Any:
        """Run ``code``, by default in the shell the calling cell runs in (see `KernelClient`)."""
        if "subshell_id" not in options:
            subshell = current_subshell.get()
            options["subshell_id"] = None if subshell is None else subshell.subshell_id
        return await super().execute(code, **options)

    def _send(self, channel: Channel, frames: list[bytes | memoryview]) -> None:
        assert self._identity is not None
        self._kernel.receive_local(channel, [self._identity, *map(bytes, frames)])

    def _deliver(self, channel: Channel, frames: Sequence[bytes | memoryview]) -> None:
        """The kernel's reply or iopub message for this client (the sending thread)."""
        self._receive_message(channel, decode_frames(frames))
