"""The trio backend for async-kernel, registered in the ``async_kernel.backends`` entry points."""

from async_kernel import BackendSpec

BACKEND = BackendSpec("trio", "trio")
"""Runs the kernel's event loops on trio; the main shell's loop persists between cells."""

__all__ = ["BACKEND"]
