"""The ``%subshell`` magic: which shell am I in, and should it share the main namespace."""

from __future__ import annotations

from typing import TYPE_CHECKING

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

from ..shell._subshell import current_subshell

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from ._subshells import Subshells

__all__ = ["SubshellMagics"]

_OPTIONS = ("--shared", "--layered")


@magics_class
class SubshellMagics(Magics):
    """Magics about subshells (JEP 91)."""

    def __init__(self, shell: InteractiveShell, subshells: Subshells) -> None:
        super().__init__(shell)
        self._subshells = subshells

    @line_magic
    def subshell(self, line: str) -> None:
        """Show the current subshell and all subshells, or change how this one sees names.

        Usage::

            %subshell            print this shell's subshell id, its namespace mode, and all ids
            %subshell --shared   use the main shell's namespace itself: assignments reach it
            %subshell --layered  use this subshell's own names over the main ones (the default)
        """
        option = line.strip()
        if option not in ("", *_OPTIONS):
            raise UsageError(f"unknown option {option!r}; use {' or '.join(_OPTIONS)}")
        subshell = current_subshell.get()
        if option:
            if subshell is None:
                raise UsageError("the main shell always uses the main namespace")
            subshell.share_main_namespace(option == "--shared")
        if subshell is None:
            identity, mode = "None (the main shell)", "main"
        else:
            identity, mode = subshell.subshell_id, "shared" if subshell.shared else "layered"
        print(f"subshell id: {identity}")  # noqa: T201 - a magic's output
        print(f"namespace: {mode}")  # noqa: T201
        print(f"subshells: {', '.join(self._subshells.ids()) or 'none'}")  # noqa: T201
