"""The ``async-kernel`` command: kernel specs and starting the kernel."""
