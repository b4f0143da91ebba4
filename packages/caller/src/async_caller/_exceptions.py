"""Every exception async_caller raises, each a subclass of the builtin a user already catches."""

from __future__ import annotations

import concurrent.futures

__all__ = [
    "CallerExistsError",
    "CallerProtectedError",
    "CallerStoppedError",
    "DeadlockError",
    "InvalidStateError",
    "NoCallerError",
    "PendingCancelled",
    "PendingCancelledError",
    "PendingTimeoutError",
    "ThreadsUnavailableError",
    "UnknownBackendError",
]


class NoCallerError(RuntimeError):
    """There is no `Caller` for the thread that asked for one, and none can be made there.

    ``Caller()`` makes the current thread's caller on first use, but only inside a running
    asyncio or trio loop. From a plain thread, start a caller of its own with
    ``Caller("NewThread")``; ``Caller("MainThread")`` needs the main thread's loop to have
    made its caller first.
    """


class CallerStoppedError(RuntimeError):
    """Work was submitted to a `Caller` that has stopped (or is stopping).

    A stopped caller never runs anything again; get a new one with ``Caller("NewThread")``,
    or ``Caller()`` inside a running loop.
    """


class UnknownBackendError(LookupError):
    """The backend name given to a `Caller` is not one async_caller can run.

    The valid names are ``"asyncio"`` and ``"trio"``; ``"trio"`` needs
    ``pip install async-caller[trio]``.
    """


class PendingCancelled(concurrent.futures.CancelledError):
    """The `Pending` was cancelled, so it has no result.

    Raised by `Pending.result()`, `Pending.wait()`, `Pending.wait_sync()`,
    `Pending.exception()` and by awaiting a
    cancelled Pending. It is deliberately *not* the awaiting task's own backend cancellation
    (trio's ``Cancelled`` or `asyncio.CancelledError`): awaiting someone else's cancelled work
    must not look as if your own task had been cancelled, which would confuse task groups and
    cancel scopes. It subclasses `concurrent.futures.CancelledError`, an ordinary `Exception`,
    so code written for thread-pool futures catches it too.
    """


PendingCancelledError = PendingCancelled
"""The earlier name of `PendingCancelled`."""


class PendingTimeoutError(TimeoutError):
    """A wait given a timeout ran out of time before the result came.

    `Pending.wait()` and `Pending.wait_sync()` cancel the Pending when that happens, unless
    they were called with ``protect=True`` (then it keeps running: wait again, or cancel it).
    A pending group given a timeout cancels what is left of it.
    """


class InvalidStateError(concurrent.futures.InvalidStateError):
    """A `Pending` was used in a way its current state does not allow.

    For example `Pending.result()` before it is done, or `Pending.set_result()` on a Pending
    that already has an outcome.
    """


class DeadlockError(RuntimeError):
    """A blocking wait was attempted in the very thread that has to produce the result.

    Blocking that thread would stop its event loop, so the result could never arrive. Inside
    the loop, ``await pending`` instead of calling ``pending.wait_sync()``. Also raised when a
    call awaits its own Pending, which can only finish once that call has.
    """


class CallerExistsError(RuntimeError):
    """A caller was asked for with options that the thread's existing caller does not have.

    There is one caller per thread: ``Caller(name="x")`` in a thread whose caller has another
    name (or backend) raises this. Use ``Caller()`` to get the existing one, or stop it first.
    """


class ThreadsUnavailableError(RuntimeError):
    """Work needs a thread, the interpreter has none, and no caller can take it instead.

    Without threads (Pyodide), ``Caller("NewThread")``, `Caller.to_thread` and
    `Caller.call_using_backend` run their work as tasks of the calling thread's caller: call
    them from inside a running loop.
    """


class CallerProtectedError(RuntimeError):
    """`Caller.stop()` (or leaving its ``async with``) was called on a protected caller.

    The kernel's own callers (the main shell's, each subshell's, control's) are protected, so
    that a cell cannot stop the kernel by accident. Pass ``force=True`` to stop one anyway.
    """
