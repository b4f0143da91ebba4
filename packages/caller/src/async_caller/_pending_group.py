"""`PendingGroup`: wait for every Pending started in a block; one failure cancels the rest.

Design note: the group is found through a context variable that the block sets. Each
submission copies its submitter's context, so `Caller._submit` sees the group of the block
it was made in (and so do calls made by those calls, whose contexts are copies of it) and
adds the new Pending with one lookup; outside a group that lookup is all it costs. A Pending
reports back through a done callback, from whatever thread finishes it; the body's cancel
scope is only touched in the group's own loop thread.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from typing import TYPE_CHECKING, Any

import aiologic
import anyio

from ._exceptions import PendingTimeoutError

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType
    from typing import Self

    from ._pending import Pending

__all__ = ["PendingGroup", "current_group"]

current_group: contextvars.ContextVar[PendingGroup | None] = contextvars.ContextVar(
    "async_caller.current_group", default=None
)
"""The pending group of the ``async with`` block the current code runs in, if any."""


class PendingGroup:
    """Tracks every Pending started inside its ``async with`` block, and waits for them all.

    Made by `Caller.create_pending_group`. Calls started in the block (with ``call_soon``,
    ``to_thread``, ``call_using_backend``... of any caller, and calls that those calls start)
    join the group. Leaving the block waits until all of them are done. If one of them raises,
    or the group is cancelled (`cancel`, the body raising, or the awaiting task being
    cancelled), the rest are cancelled and the body too; the first exception is then raised
    from the ``async with``. A Pending that is cancelled on its own is not a failure.

    Args:
        loop_submitter: Called in the block's loop when it starts; returns a function that
            runs a plain function soon in that loop, from any thread (the group cancels its
            body from there).
        shield: Shield the block and the final wait from cancellation from outside.
        timeout: Seconds for the whole block; when they pass, everything left is cancelled
            and `PendingTimeoutError` is raised.
    """

    def __init__(
        self,
        loop_submitter: Callable[[], Callable[[Callable[[], object]], object]],
        *,
        shield: bool = False,
        timeout: float | None = None,
    ) -> None:
        self._loop_submitter = loop_submitter
        self._call_in_loop: Callable[[Callable[[], object]], object] | None = None
        self._shield = shield
        self._timeout = timeout
        self._lock = threading.Lock()
        self._pendings: set[Pending[Any]] = set()
        self._empty: aiologic.Event | None = None
        self._failure: BaseException | None = None
        self._cancelled = False
        self._closed = False
        self._scope: anyio.CancelScope | None = None
        self._thread: threading.Thread | None = None
        self._token: contextvars.Token[PendingGroup | None] | None = None

    def __repr__(self) -> str:
        return f"<PendingGroup {len(self._pendings)} unfinished>"

    @property
    def pendings(self) -> frozenset[Pending[Any]]:
        """The group's Pendings that are not done yet."""
        with self._lock:
            return frozenset(self._pendings)

    @property
    def cancelled(self) -> bool:
        """True once the group was cancelled or one of its Pendings failed."""
        return self._cancelled

    def add(self, pending: Pending[Any]) -> None:
        """Add a Pending to the group; any thread. Started calls are added by themselves.

        Added to a group that has already finished, or that is cancelled, the Pending is
        cancelled at once.
        """
        with self._lock:
            refused = self._closed or self._cancelled
            if not refused:
                self._pendings.add(pending)
        if refused:
            pending.cancel("its pending group has finished or was cancelled")
            return
        pending.add_done_callback(self._on_done)

    def cancel(self, msg: str | None = None) -> None:
        """Cancel every Pending of the group, and its body; any thread."""
        with self._lock:
            first = not self._cancelled
            self._cancelled = True
            pendings = list(self._pendings)
        for pending in pendings:
            pending.cancel(msg or "its pending group was cancelled")
        if first:
            scope, thread = self._scope, self._thread
            if scope is not None and not self._closed:
                if thread is threading.current_thread():
                    scope.cancel()
                elif self._call_in_loop is not None:
                    with contextlib.suppress(RuntimeError):  # the loop has stopped
                        self._call_in_loop(scope.cancel)

    def _on_done(self, pending: Pending[Any]) -> None:
        """Done callback of each member; in the thread that finished it."""
        failure = None
        if not pending.cancelled():
            failure = pending.exception()
        with self._lock:
            self._pendings.discard(pending)
            first_failure = failure is not None and self._failure is None
            if first_failure:
                self._failure = failure
            empty = None
            if not self._pendings:
                empty, self._empty = self._empty, None
        if empty is not None:
            empty.set()
        if first_failure:
            self.cancel("another call of its pending group failed")

    async def _all_done(self) -> None:
        while True:
            with self._lock:
                if not self._pendings:
                    return
                event = self._empty
                if event is None:
                    event = self._empty = aiologic.Event()
            await event

    async def __aenter__(self) -> Self:
        """Start tracking; in the loop of the block."""
        if self._token is not None:
            msg = f"{self!r} was entered already; make a new group for each block"
            raise RuntimeError(msg)
        scope = anyio.CancelScope(shield=self._shield)
        if self._timeout is not None:
            scope.deadline = anyio.current_time() + self._timeout
        self._thread = threading.current_thread()
        self._call_in_loop = self._loop_submitter()
        scope.__enter__()
        self._scope = scope
        self._token = current_group.set(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        """Wait for every Pending; cancel the rest on a failure; raise the first failure."""
        assert self._token is not None
        assert self._scope is not None
        current_group.reset(self._token)
        scope = self._scope
        try:
            if exc is not None:
                self.cancel("the body of its pending group raised")
            try:
                await self._all_done()
            except BaseException:
                self.cancel("its pending group was cancelled")
                with anyio.CancelScope(shield=True):
                    await self._all_done()
                raise
        except BaseException as inner:
            self._closed = True
            if not scope.__exit__(type(inner), inner, inner.__traceback__):
                raise
            swallowed = True
        else:
            self._closed = True
            swallowed = bool(scope.__exit__(exc_type, exc, tb))
        if self._failure is not None:
            raise self._failure
        if scope.cancelled_caught and anyio.current_time() >= scope.deadline:
            msg = f"the pending group was not done after {self._timeout} s; the rest was cancelled"
            raise PendingTimeoutError(msg)
        return swallowed
