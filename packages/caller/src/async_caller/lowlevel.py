"""Switches for hosts and tests, kept out of the package root that applications use.

`set_threads_available` turns the no-threads fallback (Pyodide's) on or off in an interpreter
that does have threads.
"""

from ._threads import set_threads_available

__all__ = ["set_threads_available"]


def _fix_module_names() -> None:
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith("async_caller._"):
            obj.__module__ = __name__


_fix_module_names()
