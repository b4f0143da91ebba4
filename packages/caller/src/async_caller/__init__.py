"""Run work in any thread or event loop and get a result that can be awaited or waited on anywhere.

Layers, bottom up: `_exceptions`; `_pending` (Pending, backend-neutral, aiologic);
`_in_context` and `_wakeup` (small helpers); `_runner` (what a Caller needs from a loop),
`_asyncio_runner` and `_trio_runner` (the only asyncio/trio specific code) and `_backends`
(names, check, runner for a loop); `_call_queue` and `_worker_pool`; `_threads` (whether
threads exist); `_caller` (Caller); `_helpers` (as_completed, wait). Each imports only from
the ones before it. Import everything from here,
except the switches for hosts and tests, which live in `async_caller.lowlevel`.
"""

from ._backends import BACKENDS as BACKENDS
from ._caller import Caller as Caller
from ._exceptions import CallerExistsError as CallerExistsError
from ._exceptions import CallerStoppedError as CallerStoppedError
from ._exceptions import DeadlockError as DeadlockError
from ._exceptions import InvalidStateError as InvalidStateError
from ._exceptions import NoCallerError as NoCallerError
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
from ._threads import threads_available as threads_available
from ._worker_pool import WorkerPool as WorkerPool

__all__ = [
    "ALL_COMPLETED",
    "BACKENDS",
    "FIRST_COMPLETED",
    "FIRST_EXCEPTION",
    "Caller",
    "CallerExistsError",
    "CallerStoppedError",
    "DeadlockError",
    "InvalidStateError",
    "NoCallerError",
    "Pending",
    "PendingCancelledError",
    "PendingTimeoutError",
    "ThreadsUnavailableError",
    "UnknownBackendError",
    "WorkerPool",
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
