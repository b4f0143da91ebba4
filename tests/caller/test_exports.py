from __future__ import annotations

import inspect

import async_caller


def test_all_lists_every_public_name() -> None:
    """__all__ is exactly the public names the package root defines."""
    public = {
        name
        for name, value in vars(async_caller).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert set(async_caller.__all__) == public
    assert len(async_caller.__all__) == len(set(async_caller.__all__))


def test_public_names_show_the_package_path() -> None:
    """Classes and functions read as async_caller.X in reprs and tracebacks."""
    for name in async_caller.__all__:
        value = getattr(async_caller, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__ == "async_caller", name


def test_every_public_name_is_documented() -> None:
    """Every public class and function has a docstring."""
    for name in async_caller.__all__:
        value = getattr(async_caller, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), name
