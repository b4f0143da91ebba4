"""`Runner`: the few things a `Caller` needs from an event loop, each said with its thread.

The adapters, `AsyncioRunner` (`_asyncio_runner`) and `TrioRunner` (`_trio_runner`), are the
only asyncio or trio specific code; `_backends.create_runner` picks one.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import contextvars
    from collections.abc import Callable, Coroutine
    from types import TracebackType

    from ._pending import Pending, _Canceller

__all__ = ["CallArgs", "CallScope", "Runner", "running_backend"]

CallArgs = tuple[Any, ...]


def running_backend() -> str | None:
    """The library of the innermost loop running in this thread now, or None; any thread.

    Unlike sniffio, which trusts a context variable that anyio sets and every copied context
    keeps, this asks the loops: a trio run started inside an asyncio call (a cell running a
    loop of its own) is trio's, although asyncio's loop is running too.
    """
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_run():
        return "trio"
    if asyncio._get_running_loop() is not None:
        return "asyncio"
    return None


class Runner:
    """Backend-specific operations, each documented with the thread it may be called from."""

    backend: str
    cancelled_exc_class: type[BaseException]
    """The exception the backend raises in a cancelled task."""

    def call_threadsafe(self, callback: Callable[[], object]) -> None:
        """Run ``callback()`` soon in the loop; any thread. Raises RuntimeError once closed."""
        raise NotImplementedError

    def call_local(self, callback: Callable[[], object]) -> None:
        """Run ``callback()`` soon in the loop; loop thread only."""
        raise NotImplementedError

    def spawn(
        self,
        pending: Pending[Any],
        canceller: _Canceller,
        func: Callable[..., Any],
        args: CallArgs,
        kwargs: dict[str, Any],
        context: contextvars.Context,
    ) -> None:
        """Start ``func`` as a new task linked to ``pending``; loop thread only."""
        raise NotImplementedError

    def spawn_system(self, async_fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Start an internal long-lived task (queue worker); loop thread only."""
        raise NotImplementedError

    def cancel_handle(self, handle: Any) -> None:
        """Cancel a task handle given to `Pending._start`; loop thread only."""
        handle.cancel()

    def call_scopes(self) -> Callable[[], CallScope]:
        """Return a factory of scopes, each around one call run by the current task.

        Call it once from a long-lived task that runs calls one after another (a queue
        worker); each scope, used as ``with scope:``, is the handle that cancels just its
        call, and swallows that cancellation at its exit. Loop thread only.
        """
        raise NotImplementedError

    def start_serving(self, async_fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Start the task that serves a Caller made on first use; loop thread only.

        It runs with an empty context, outside any task of the code that asked for the
        Caller, and ends when the Caller stops or the loop ends.
        """
        raise NotImplementedError

    def runs_here(self) -> bool:
        """Whether this runner's loop is the one running in the calling thread now."""
        raise NotImplementedError

    def running_calls(self) -> int:
        """How many calls have started and not finished; loop thread (a snapshot elsewhere)."""
        raise NotImplementedError

    async def open(self) -> None:
        """Prepare to run tasks; in the loop, from the task that serves the Caller."""

    def cancel_all(self) -> None:
        """Cancel every task this runner started; loop thread only."""
        raise NotImplementedError

    async def close(self) -> None:
        """Wait for every task to end; from the task that entered the Caller."""
        raise NotImplementedError

    async def sleep(self, delay: float) -> None:
        """Sleep natively."""
        raise NotImplementedError


class CallScope(Protocol):
    """What `Runner.call_scopes` makes: a context manager that can cancel its own block."""

    def __enter__(self) -> object: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> bool | None: ...

    def cancel(self) -> None: ...
