"""Command-line words that argparse does not parse: traitlets settings and 0.23 spellings.

``--Class.trait=value`` (or ``--Class.trait value``) is a traitlets setting: it is set aside
for the kernel's Config (``shell._config``), whatever the class, since only the kernel knows
which classes it has. The lowercase dotted settings of async-kernel 0.23 are mapped where they
mean something here (``--interface.backend``) and otherwise dropped with a warning, as are its
other start options (``--start_interface``, ``--launcher``, ``--kernel_name``): an old kernel
spec must still start.

Imports nothing heavy: this runs before the kernel listens on its ports.
"""

from __future__ import annotations

TYPE_CHECKING = False  # as in __init__: no `typing` import before the kernel listens
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["SplitArguments", "split_arguments"]

_RENAMED = {
    "--interface.backend": "--backend",
    "--connection_file": "--connection-file",
    "--display_name": "--display-name",
    "--log_level": "--log-level",
    "--sys_prefix": "--sys-prefix",
    "--host": "--gui",  # 0.23's GUI loop that hosts the kernel's event loop
    "--kernel_name": "--name",
}
"""Other spellings of our options, by the spelling argparse knows."""

_IGNORED = ("--start_interface", "--launcher", "--interface.start_interface")
"""0.23 options that choose how the kernel starts: there is one way here."""


class SplitArguments:
    """The words for argparse, the traitlets settings and the warnings to print."""

    def __init__(self) -> None:
        self.arguments: list[str] = []
        self.settings: list[str] = []
        self.warnings: list[str] = []


def split_arguments(words: Sequence[str]) -> SplitArguments:
    """Set aside ``--Class.trait`` settings, rename old spellings and drop 0.23-only options."""
    split = SplitArguments()
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        name, equals, value = word.partition("=")
        if not name.startswith("--") or word == "--":
            split.arguments.append(word)
            continue
        takes_next = not equals and index < len(words) and _is_value(words[index])
        if name in _RENAMED:
            split.arguments.append(_RENAMED[name] + equals + value)
        elif name in _IGNORED or ("." in name and not name[2:3].isupper()):
            if takes_next:
                value = words[index]
                index += 1
            shown = f"{name}={value}" if value else name
            split.warnings.append(f"{shown} is a setting of async-kernel 0.23; ignored")
        elif "." in name:
            if takes_next:
                value = words[index]
                index += 1
            split.settings.append(f"{name}={value}")
        else:
            split.arguments.append(word)
    return split


def _is_value(word: str) -> bool:
    """Whether ``word`` is the value of the option before it, not an option (``-1`` is one)."""
    if not word.startswith("-"):
        return True
    try:
        float(word)
    except ValueError:
        return False
    return True
