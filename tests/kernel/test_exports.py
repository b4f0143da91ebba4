"""async_kernel's public names: __all__ is exact, each resolves, and reads as async_kernel.X."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

import async_kernel

_TYPING_NAMES = {"TYPE_CHECKING", "annotations"}
"""Module-level names that are not API: the lazy-import switch, ``from __future__``."""


def _resolve_all() -> dict[str, object]:
    return {name: getattr(async_kernel, name) for name in async_kernel.__all__}


def test_all_lists_every_public_name() -> None:
    """Once every lazy name is loaded, __all__ is exactly the public names the root holds."""
    _resolve_all()
    public = {
        name
        for name, value in vars(async_kernel).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name not in _TYPING_NAMES
    }
    assert public == set(async_kernel.__all__) - {"__version__"}
    assert len(async_kernel.__all__) == len(set(async_kernel.__all__))


def test_public_names_show_the_package_path() -> None:
    """Classes and functions read as async_kernel.X; names from other packages keep theirs."""
    for name, value in _resolve_all().items():
        if not (inspect.isclass(value) or inspect.isfunction(value)):
            continue
        home = value.__module__.partition(".")[0]
        if home != "async_kernel":  # re-exported from another package, such as async_caller
            continue
        assert value.__module__ == "async_kernel", name


def test_every_public_name_is_documented() -> None:
    for name, value in _resolve_all().items():
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), name


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        async_kernel.no_such_name  # noqa: B018


def test_importing_the_package_and_its_layers_loads_nothing_heavy() -> None:
    """The root and every subpackage's __init__ import no kernel module, pyzmq or IPython."""
    code = (
        "import sys, async_kernel\n"
        "for layer in ('messaging', 'runtime', 'shell', 'handlers', 'debugger', 'cli'):\n"
        "    __import__(f'async_kernel.{layer}')\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('zmq', 'IPython', 'anyio')]\n"
        "ours = [m for m in sys.modules if m.startswith('async_kernel.') and "
        "m.count('.') > 1 or m in ('async_kernel._kernel', 'async_kernel._exceptions')]\n"
        "print(heavy, ours)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[] []"


def test_every_entry_point_imports() -> None:
    """Console scripts and plugin entry points name modules and objects that exist."""
    from importlib.metadata import distribution

    checked = 0
    for dist_name in ("async-kernel", "async-kernel-trio", "async-kernel-gui"):
        for entry_point in distribution(dist_name).entry_points:
            module_name, _, attribute = entry_point.value.partition(":")
            module = importlib.import_module(module_name)
            assert attribute, entry_point
            assert getattr(module, attribute.split(".")[0], None) is not None, entry_point
            checked += 1
    assert checked >= 6
