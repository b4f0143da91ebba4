"""The trio backend for async-kernel, registered in the ``async_kernel.backends`` entry points."""

from async_kernel import BackendSpec

from ._hide_run import hide_trio_run

BACKEND = BackendSpec("trio", "trio", hide_running_loop=hide_trio_run)
"""Runs the kernel's event loops on trio; the main shell's loop persists between cells."""

__all__ = ["BACKEND"]
