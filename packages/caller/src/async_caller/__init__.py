"""Run work in any thread or event loop and get a result that can be awaited or waited on anywhere.

Layers, bottom up, each importing only from those before it: `_exceptions`; `_pending`
(Pending, backend-neutral, aiologic); `_in_context` and `_wakeup` (small helpers);
`_pending_group` (PendingGroup); `_runner` (what a Caller needs from a loop),
`_asyncio_runner` and `_trio_runner` (the only asyncio/trio specific code) and `_backends`
(names, check, the runner for a loop); `_call_queue`; `_worker_pool` (worker callers, through
a host that the Caller gives it); `_threads` (whether threads exist); `_helpers`
(as_completed, wait); `_caller` (Caller). Import everything from here, except the switches
for hosts and tests, which live in `async_caller.lowlevel`.
"""

from ._backends import BACKENDS as BACKENDS
from ._caller import Caller as Caller
from ._exceptions import CallerExistsError as CallerExistsError
from ._exceptions import CallerProtectedError as CallerProtectedError
from ._exceptions import CallerStoppedError as CallerStoppedError
from ._exceptions import DeadlockError as DeadlockError
from ._exceptions import InvalidStateError as InvalidStateError
from ._exceptions import NoCallerError as NoCallerError
from ._exceptions import PendingCancelled as PendingCancelled
from ._exceptions import PendingCancelledError as PendingCancelledError
from ._exceptions import PendingTimeoutError as PendingTimeoutError
from ._exceptions import ThreadsUnavailableError as ThreadsUnavailableError
from ._exceptions import UnknownBackendError as UnknownBackendError
from ._helpers import ALL_COMPLETED as ALL_COMPLETED
from ._helpers import FIRST_COMPLETED as FIRST_COMPLETED
from ._helpers import FIRST_EXCEPTION as FIRST_EXCEPTION
from ._helpers import as_completed as as_completed
from ._helpers import wait as wait
from ._pending import Pending as Pending
from ._pending_group import PendingGroup as PendingGroup
from ._threads import threads_available as threads_available

__all__ = [
    "ALL_COMPLETED",
    "BACKENDS",
    "FIRST_COMPLETED",
    "FIRST_EXCEPTION",
    "Caller",
    "CallerExistsError",
    "CallerProtectedError",
    "CallerStoppedError",
    "DeadlockError",
    "InvalidStateError",
    "NoCallerError",
    "Pending",
    "PendingCancelled",
    "PendingCancelledError",
    "PendingGroup",
    "PendingTimeoutError",
    "ThreadsUnavailableError",
    "UnknownBackendError",
    "as_completed",
    "threads_available",
    "wait",
]


# Show public names as async_caller.X in reprs and tracebacks.
def _fix_module_names() -> None:
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith("async_caller._"):
            obj.__module__ = __name__


_fix_module_names()
