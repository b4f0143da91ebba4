"""Every exception async_caller raises, each a subclass of the builtin a user already catches."""

from __future__ import annotations

import concurrent.futures

__all__ = [
    "CallerExistsError",
    "CallerStoppedError",
    "DeadlockError",
    "InvalidStateError",
    "NoCallerError",
    "PendingCancelledError",
    "PendingTimeoutError",
    "ThreadsUnavailableError",
    "UnknownBackendError",
]


class NoCallerError(RuntimeError):
    """There is no `Caller` bound to the thread that asked for one.

    Raised by `Caller.get_current()`. Open one with `async with Caller():` inside the thread's
    event loop, or start a thread that has one with `Caller.start_new()`.
    """


class CallerStoppedError(RuntimeError):
    """Work was submitted to a `Caller` that has stopped (or is stopping).

    A stopped caller never runs anything again; start a new one with `Caller.start_new()` or
    `async with Caller():`.
    """


class UnknownBackendError(LookupError):
    """The backend name given to `Caller.start_new()` is not one async_caller can run.

    The valid names are ``"asyncio"`` and ``"trio"``; ``"trio"`` needs
    ``pip install async-caller[trio]``.
    """


class PendingCancelledError(concurrent.futures.CancelledError):
    """The `Pending` was cancelled, so it has no result.

    Raised by `Pending.result()`, `Pending.wait()`, `Pending.exception()` and by awaiting a
    cancelled Pending. It is deliberately *not* the awaiting task's own backend cancellation
    (trio's ``Cancelled`` or `asyncio.CancelledError`): awaiting someone else's cancelled work
    must not look as if your own task had been cancelled, which would confuse task groups and
    cancel scopes. It subclasses `concurrent.futures.CancelledError`, an ordinary `Exception`,
    so code written for thread-pool futures catches it too.
    """


class PendingTimeoutError(TimeoutError):
    """`Pending.wait()` (or a helper given a timeout) ran out of time before the result came.

    The Pending itself is untouched and keeps running: wait again, or call `Pending.cancel()`
    if the result is no longer wanted.
    """


class InvalidStateError(concurrent.futures.InvalidStateError):
    """A `Pending` was used in a way its current state does not allow.

    For example `Pending.result()` before it is done, or `Pending.set_result()` on a Pending
    that already has an outcome.
    """


class DeadlockError(RuntimeError):
    """A blocking wait was attempted in the very thread that has to produce the result.

    Blocking that thread would stop its event loop, so the result could never arrive. Inside
    the loop, ``await pending`` instead of calling ``pending.wait()``.
    """


class CallerExistsError(RuntimeError):
    """A second `Caller` was entered in a thread that already has a running one.

    There is one caller per thread. Reach the existing one with `Caller.get_current()`, or
    stop it before entering a new one.
    """


class ThreadsUnavailableError(RuntimeError):
    """Work needs a thread, the interpreter has none, and no caller can take it instead.

    Without threads (Pyodide), `Caller.start_new` and `Caller.to_thread` run their work as
    tasks of the calling thread's caller: call them from inside a running caller's loop.
    """
