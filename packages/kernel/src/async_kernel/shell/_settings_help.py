"""The ``--help-all`` text for settings: each configurable class the kernel reads, with defaults."""

from __future__ import annotations

__all__ = ["settings_help"]


def settings_help() -> str:
    """Every ``--Class.trait=value`` setting the kernel's own classes read, with its default.

    Classes are named as users write them in ``ipython_config.py``: the kernel's shell reads
    the ``InteractiveShell`` section, its start-up code the ``InteractiveShellApp`` one.
    """
    from IPython.core.completer import IPCompleter
    from IPython.core.formatters import PlainTextFormatter
    from IPython.core.history import HistoryManager
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.magics.script import ScriptMagics
    from IPython.core.shellapp import InteractiveShellApp
    from IPython.extensions.storemagic import StoreMagics

    classes = (
        InteractiveShellApp,
        InteractiveShell,
        HistoryManager,
        PlainTextFormatter,
        IPCompleter,
        ScriptMagics,
        StoreMagics,
    )
    return "\n\n".join(cls.class_get_help() for cls in classes)
