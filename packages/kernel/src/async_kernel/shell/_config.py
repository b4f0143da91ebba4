"""The kernel's settings as one traitlets ``Config``, as ipykernel reads them.

Three sources merge, each over the one before: the profile's ``ipython_config.py``, its
``ipython_kernel_config.py`` (both read by traitlets' ``PyFileConfigLoader``, from IPython's
system and environment config folders and then the profile folder), and the command line's
``--Class.trait=value`` arguments (traitlets' ``KVArgParseConfigLoader``).

Errors never stop the kernel: a config file that fails is logged and skipped, a section
naming a class the kernel does not have is ignored (``ipython_config.py`` files are full of
``TerminalInteractiveShell`` settings), and a value its trait refuses is logged and dropped,
so the trait keeps its default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.profiledir import ProfileDir, ProfileDirError
from IPython.paths import get_ipython_dir
from traitlets import TraitError, TraitType
from traitlets.config import Config, Configurable
from traitlets.config.loader import (
    ConfigFileNotFound,
    DeferredConfigList,
    DeferredConfigString,
    KVArgParseConfigLoader,
    PyFileConfigLoader,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = ["CONFIG_FILES", "KernelConfig", "load_kernel_config"]

log = logging.getLogger("async_kernel.config")

CONFIG_FILES = ("ipython_config.py", "ipython_kernel_config.py")
"""The files read from each config folder, in this order (the later one wins)."""


@dataclass(frozen=True, slots=True)
class KernelConfig:
    """The merged settings and the IPython profile they came from.

    Attributes:
        config: Every setting, by class name; the shell and its parts read theirs.
        profile_dir: The profile's folder: its ``startup/`` files run at start, and its
            ``history.sqlite`` keeps the history. None when a named profile does not exist.
    """

    config: Config
    profile_dir: ProfileDir | None


def load_kernel_config(settings: Sequence[str] = (), profile: str | None = None) -> KernelConfig:
    """Read the profile's config files and ``settings``, merged into one checked Config.

    Args:
        settings: ``--Class.trait=value`` (or ``--Class.trait value``) arguments.
        profile: The IPython profile; ``default`` when None. A missing default profile is
            created, as IPython does; a missing named one is logged, and no files are read.
    """
    config = Config()
    profile_dir = _find_profile(profile or "default", create=profile in (None, "default"))
    folders = [*_system_config_dirs()]
    if profile_dir is not None:
        folders.append(Path(profile_dir.location))
    for folder in folders:
        for name in CONFIG_FILES:
            config.merge(_read_config_file(folder, name))
    if settings:
        config.merge(KVArgParseConfigLoader(list(settings), log=log).load_config())
    drop_invalid_values(config)
    return KernelConfig(config, profile_dir)


def _find_profile(name: str, *, create: bool) -> ProfileDir | None:
    ipython_dir = get_ipython_dir()
    try:
        return ProfileDir.find_profile_dir_by_name(ipython_dir, name)
    except ProfileDirError:
        if create:
            return ProfileDir.create_profile_dir_by_name(ipython_dir, name)
    log.warning(
        "IPython profile %r not found in %s; starting without its config and startup files "
        "(create it with: ipython profile create %s)",
        name,
        ipython_dir,
        name,
    )
    return None


def _system_config_dirs() -> Iterator[Path]:
    """IPython's system-wide config folders, then the environment's (lowest priority first)."""
    from IPython.core.application import ENV_CONFIG_DIRS, SYSTEM_CONFIG_DIRS

    for folder in [*reversed(SYSTEM_CONFIG_DIRS), *reversed(ENV_CONFIG_DIRS)]:
        path = Path(folder)
        if path.is_dir():
            yield path


def _read_config_file(folder: Path, name: str) -> Config:
    if not (folder / name).is_file():
        return Config()
    try:
        return PyFileConfigLoader(name, path=str(folder), log=log).load_config()
    except ConfigFileNotFound:
        return Config()
    except Exception:  # any error in the user's file: log it, start anyway
        log.exception("error in the config file %s; its settings are ignored", folder / name)
        return Config()


def drop_invalid_values(config: Config) -> None:
    """Remove, with a log line each, the values their traits refuse (so defaults apply).

    Only classes already imported are checked; sections of unknown classes stay, unread.
    """
    classes = _configurable_classes()
    for section in list(config):
        if not section[:1].isupper() or section not in classes:
            continue
        values = config[section]
        if not isinstance(values, Config):
            continue
        for trait_name in list(values):
            trait = _find_trait(classes[section], trait_name)
            if trait is None:
                continue
            error = _check_value(trait, values[trait_name])
            if error is None and trait_name == "colors":
                error = _check_theme(classes[section], values[trait_name])
            if error is not None:
                log.error(
                    "ignoring the setting %s.%s=%r: %s; it keeps its default, %r",
                    section,
                    trait_name,
                    _shown(values[trait_name]),
                    error,
                    trait.default_value,
                )
                del values[trait_name]


def _configurable_classes() -> dict[str, list[type[Configurable]]]:
    found: dict[str, list[type[Configurable]]] = {}
    pending: list[type[Configurable]] = [Configurable]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.__name__, []).append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _find_trait(classes: list[type[Configurable]], name: str) -> TraitType[Any, Any] | None:
    for cls in classes:
        trait = cls.class_traits(config=True).get(name)
        if trait is not None:
            return trait
    return None


def _check_value(trait: TraitType[Any, Any], value: object) -> str | None:
    """The reason ``trait`` refuses ``value``, or None if it takes it (or we cannot tell)."""
    try:
        if isinstance(value, DeferredConfigString | DeferredConfigList):
            value = value.get_value(trait)
        trait.validate(None, value)  # pyright: ignore[reportAttributeAccessIssue] - every trait has it
    except (TraitError, ValueError) as error:
        return str(error)
    except Exception:  # noqa: BLE001 - a trait that needs its object to check: let it through
        return None
    return None


def _check_theme(classes: list[type[Configurable]], value: object) -> str | None:
    """The shell's ``colors`` is free text to its trait, but must name one of IPython's themes."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.PyColorize import theme_table

    if not any(issubclass(cls, InteractiveShell) for cls in classes):
        return None
    name = str(value).lower()
    if name in theme_table:
        return None
    return f"no color theme named {name!r}; the themes are: {', '.join(theme_table)}"


def _shown(value: object) -> object:
    if isinstance(value, DeferredConfigString):
        return str(value)
    if isinstance(value, DeferredConfigList):
        return list(value)
    return value
