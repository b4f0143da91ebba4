"""What IPython's ``InteractiveShellApp`` does at start, done by the kernel as ipykernel does.

In ipykernel's order: the GUI or matplotlib integration (``gui``, ``matplotlib``, ``pylab``),
then the extensions, then ``$PYTHONSTARTUP`` and the profile's ``startup/*.py`` and ``*.ipy``
files (sorted by name), then ``exec_lines``, then ``exec_files``. IPython's own class does
the work; this module gives it what an IPython application would (a profile, a log) and reads
``IPKernelApp`` settings too, the section ipykernel's users write them in.

Runs in the main thread, in the main shell's event loop, before the first cell: a cell waits
for it, as it would in ipykernel.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from IPython.core.shellapp import InteractiveShellApp
from IPython.paths import get_ipython_dir
from traitlets import Any as AnyTrait
from traitlets import List, Unicode
from traitlets.config import Config

if TYPE_CHECKING:
    from collections.abc import Callable

    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.profiledir import ProfileDir

__all__ = ["run_startup"]

log = logging.getLogger("async_kernel.startup")

COMPATIBLE_SECTIONS = ("IPKernelApp",)
"""Sections whose ``InteractiveShellApp`` settings apply too (ipykernel's application)."""


class KernelStartup(InteractiveShellApp):
    """IPython's start-up steps, with the attributes its application would supply."""

    ipython_dir = Unicode()
    profile_dir = AnyTrait(None)
    extra_args = List(Unicode())

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log = log


def startup_config(config: Config) -> Config:
    """``config`` with the ``IPKernelApp`` settings that are ``InteractiveShellApp``'s merged in."""
    merged = Config(config)
    known = set(InteractiveShellApp.class_traits(config=True))
    for section in COMPATIBLE_SECTIONS:
        values = config.get(section)
        if isinstance(values, Config):
            picked = {name: value for name, value in values.items() if name in known}
            merged.merge(Config({"InteractiveShellApp": picked}))
    return merged


def run_startup(shell: InteractiveShell, config: Config, profile_dir: ProfileDir | None) -> None:
    """Enable the GUI, load extensions and run start-up code in the shell (main thread).

    A failure in one step is logged with its traceback and the next step runs.
    """
    startup = KernelStartup(
        config=startup_config(config),
        shell=shell,
        ipython_dir=get_ipython_dir(),
        profile_dir=profile_dir,
    )
    steps = [startup.init_gui_pylab, startup.init_extensions]
    steps.append(startup.init_code if profile_dir is not None else _without_profile(startup))
    for step in steps:
        try:
            step()
        except Exception:  # IPython handles most errors itself; any other: log, go on
            log.exception("start-up step %s failed", getattr(step, "__name__", step))


def _without_profile(startup: KernelStartup) -> Callable[[], None]:
    """``init_code`` for a missing profile: no startup folder to read, only the settings."""

    def init_code() -> None:
        startup._run_exec_lines()
        startup._run_exec_files()
        shell = startup.shell
        if startup.hide_initial_ns and shell is not None:
            shell.user_ns_hidden.update(shell.user_ns)

    return init_code
