"""Kernel specs: write, find and remove the `kernel.json` files that tell Jupyter how to start us.

A kernel spec is a directory `<jupyter data dir>/kernels/<name>/` holding `kernel.json`. We write
and read those files ourselves with `jupyter_core.paths` (a dependency of async-kernel) rather
than through `jupyter_client.KernelSpecManager`, which async-kernel does not depend on; the
layout is the one `KernelSpecManager` reads, and the tests check that it finds what we write.

Backends are named by the `async_kernel.backends` entry-point group plus the built-in
`"asyncio"`. Validating a name only reads entry-point metadata: nothing is imported, so
installing a trio spec never imports trio.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._exceptions import KernelError
from ..runtime._backends import BUILTIN_BACKEND, check_backend

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

DEFAULT_NAME = "async"
"""The name of the spec for the built-in asyncio backend, shipped with the package."""

# The characters jupyter_client accepts in a kernel name, except that we also refuse a leading
# dot: "." and ".." are not directories to write into or delete, and ".name-*" is our staging.
_KERNEL_NAME = re.compile(r"[a-z0-9_-][a-z0-9._-]*", re.IGNORECASE)

_SPEC_FILE = "kernel.json"


class InvalidKernelNameError(KernelError, ValueError):
    """A kernel spec name has characters Jupyter does not allow."""


class KernelSpecNotFoundError(KernelError, LookupError):
    """No kernel spec with the requested name was found."""


class ForeignKernelSpecError(KernelError, RuntimeError):
    """A kernel spec with that name exists but does not start async-kernel.

    We refuse to overwrite or remove it, so `install --name python3` cannot clobber ipykernel.
    """


@dataclass(frozen=True)
class InstalledKernelSpec:
    """An async-kernel spec found on disk.

    Attributes:
        name: The spec name (its directory name), as Jupyter lists it.
        path: The spec directory.
        backend: The backend its command line asks for.
        display_name: The name Jupyter front ends show.
    """

    name: str
    path: Path
    backend: str
    display_name: str


def check_kernel_name(name: str) -> str:
    """Check a kernel spec name and return it in the lower case Jupyter uses.

    Raises:
        InvalidKernelNameError: The name is empty, starts with `.` or has characters other
            than ASCII letters, digits, `.`, `_` and `-`.
    """
    if not _KERNEL_NAME.fullmatch(name):
        raise InvalidKernelNameError(
            f"invalid kernel spec name {name!r}: use only ASCII letters, digits, '.', '_' and '-', "
            "not starting with '.'"
        )
    return name.lower()


def default_kernel_name(backend: str = BUILTIN_BACKEND) -> str:
    """Return the spec name used when none is given: `async`, or `async-<backend>`.

    A non-default backend gets its own name so that installing it never replaces the `async`
    spec that ships with the package.
    """
    return DEFAULT_NAME if backend == BUILTIN_BACKEND else f"{DEFAULT_NAME}-{backend}"


def build_kernel_spec(
    name: str = DEFAULT_NAME,
    *,
    display_name: str | None = None,
    backend: str = BUILTIN_BACKEND,
    env: dict[str, str] | None = None,
    executable: str | None = None,
    arguments: Sequence[str] = (),
) -> dict[str, Any]:
    """Return the contents of `kernel.json` for a spec.

    Args:
        name: The spec name; it appears in the default display name.
        display_name: What front ends show; defaults to `Python 3 (<name>)`.
        backend: The backend the kernel runs on; only non-default backends appear in `argv`.
        env: Environment variables Jupyter sets for the kernel process.
        executable: The Python that runs the kernel; defaults to this one (`sys.executable`).
        arguments: More words for the kernel's command line: settings `start` honours, such
            as `--profile=NAME` or `--InteractiveShell.ast_node_interactivity=all`.

    Returns:
        A JSON-serialisable dict. Interrupts are sent as `interrupt_request` messages on the
        control channel (`interrupt_mode: message`), so the kernel can stop whichever shell
        is running a cell. `metadata.debugger` is what makes JupyterLab offer its debugger;
        `metadata.supported_encryption` lets jupyter_client 8.9+ ask for CurveZMQ transport
        encryption (its `transport_encryption` "auto" or "required"; the default, "disabled",
        does not).
    """
    argv = [executable or sys.executable, "-m", "async_kernel", "-f", "{connection_file}"]
    if backend != BUILTIN_BACKEND:
        argv += ["--backend", backend]
    argv += arguments
    spec: dict[str, Any] = {
        "argv": argv,
        "display_name": display_name or f"Python 3 ({name})",
        "language": "python",
        "interrupt_mode": "message",
        "metadata": {"debugger": True, "supported_encryption": ["curve"]},
    }
    if env:
        spec["env"] = dict(env)
    return spec


def kernels_dir(
    *,
    user: bool = False,
    sys_prefix: bool = False,
    prefix: str | None = None,
    folder: str | None = None,
) -> Path:
    """Return the `kernels` directory a spec is installed into.

    Args:
        user: The user's Jupyter data directory (honours `JUPYTER_DATA_DIR`).
        sys_prefix: `<sys.prefix>/share/jupyter`, seen by Jupyter running from this environment.
        prefix: `<prefix>/share/jupyter`, for packaging or a Jupyter installed elsewhere.
        folder: This `kernels` folder itself (on `JUPYTER_PATH`, or a kernel manager's own).

    With none of them, the default is `sys_prefix` inside a virtual environment (a kernel that
    belongs to that environment should not show up in every other one) and `user` otherwise
    (a system Python is usually not writable).

    Raises:
        ValueError: More than one location was given.
    """
    if user + sys_prefix + (prefix is not None) + (folder is not None) > 1:
        raise ValueError("give at most one of --user, --sys-prefix, --prefix and --folder")
    if folder is not None:
        return Path(folder)
    if prefix is not None:
        return Path(prefix, "share", "jupyter", "kernels")
    if not user and (sys_prefix or sys.prefix != sys.base_prefix):
        return Path(sys.prefix, "share", "jupyter", "kernels")
    from jupyter_core.paths import jupyter_data_dir  # a slow import (0.1 s): only when needed

    return Path(jupyter_data_dir(), "kernels")


def install_kernel_spec(
    name: str | None = None,
    *,
    display_name: str | None = None,
    backend: str = BUILTIN_BACKEND,
    env: dict[str, str] | None = None,
    user: bool = False,
    sys_prefix: bool = False,
    prefix: str | None = None,
    folder: str | None = None,
    arguments: Sequence[str] = (),
) -> Path:
    """Write the kernel spec of async-kernel itself (what ``async-kernel install`` does).

    The same as `write_kernel_spec` without a command or launcher of its own; see there.
    ``arguments`` are kernel settings the spec's command passes to ``start``.
    """
    return write_kernel_spec(
        name,
        display_name=display_name,
        backend=backend,
        env=env,
        user=user,
        sys_prefix=sys_prefix,
        prefix=prefix,
        folder=folder,
        arguments=arguments,
    )


LAUNCHER_FILE = "launch_kernel.py"
"""The script in a spec's folder that runs the spec's launcher function."""


def write_kernel_spec(
    name: str | None = None,
    *,
    display_name: str | None = None,
    backend: str = BUILTIN_BACKEND,
    command: Sequence[str] | None = None,
    launcher: Callable[..., object] | str | None = None,
    env: Mapping[str, str] | None = None,
    user: bool = False,
    sys_prefix: bool = False,
    prefix: str | None = None,
    folder: str | None = None,
    arguments: Sequence[str] = (),
) -> Path:
    """Write a kernel spec, replacing an async-kernel spec of the same name.

    This is the one function that writes kernel specs: ``async-kernel install`` and custom
    kernels use it alike. By default the spec starts async-kernel with this Python.

    Args:
        name: The spec name; defaults to `default_kernel_name(backend)`.
        display_name: What front ends show; defaults to `Python 3 (<name>)`.
        backend: The backend the kernel runs on (passed as ``--backend`` to ``command``, or as
            ``backend=`` to ``launcher``).
        command: What starts the kernel instead of ``<this python> -m async_kernel``, such as
            ``("uv", "run", "--module", "async_kernel")``; ``-f {connection_file}`` is added.
        launcher: A function ``launcher(connection_file, backend)`` that starts a custom
            kernel (`start_kernel` with ``kernel_class=``). Its source is copied into the spec's
            folder, so it must be a module-level function whose imports are inside it; or a
            ``"module:function"`` path, imported when the kernel starts.
        env: Environment variables Jupyter sets for the kernel process.
        user: Install for the current user.
        sys_prefix: Install into this Python environment.
        prefix: Install under `<prefix>/share/jupyter`.
        folder: Install into this `kernels` folder.
        arguments: Settings for the kernel's command line (see `build_kernel_spec`).

    Returns:
        The spec directory.

    Raises:
        InvalidKernelNameError: The name has characters Jupyter does not allow.
        UnknownBackendError: The backend is not installed.
        ForeignKernelSpecError: A spec of that name exists and starts another kernel.
        ValueError: More than one location was given, or both ``command`` and ``launcher``.
    """
    if command is not None and launcher is not None:
        raise ValueError("give a command or a launcher, not both")
    name = check_kernel_name(name or default_kernel_name(backend))
    check_backend(backend)
    parent = kernels_dir(user=user, sys_prefix=sys_prefix, prefix=prefix, folder=folder)
    destination = parent / name
    existing = _read_spec(destination)
    if destination.exists() and (existing is None or not _is_ours(existing)):
        raise ForeignKernelSpecError(
            f"{destination} holds a kernel spec that does not start async-kernel; choose "
            f"another name or remove it first with: jupyter kernelspec remove {name}"
        )
    spec = build_kernel_spec(
        name,
        display_name=display_name,
        backend=backend,
        env=dict(env) if env else None,
        arguments=arguments,
    )
    script = None
    if launcher is not None:
        script = _launcher_script(launcher)
        spec["argv"] = [sys.executable, f"{{resource_dir}}/{LAUNCHER_FILE}", *spec["argv"][3:]]
    elif command is not None:
        spec["argv"] = [*command, *spec["argv"][3:]]
    if launcher is not None or command is not None:
        spec["metadata"]["async_kernel"] = {"backend": backend}
    files = {LAUNCHER_FILE: script} if script is not None else {}
    return save_kernel_spec(parent, name, spec, files=files)


def save_kernel_spec(
    parent: Path, name: str, spec: dict[str, Any], *, files: Mapping[str, str] | None = None
) -> Path:
    """Write ``spec`` (and ``files`` beside it) as the spec folder ``parent/name``.

    The one place spec folders are written: `write_kernel_spec` and the provisioner specs
    call it once they have checked that a spec they replace is theirs. The folder is written
    under a fresh sibling name, then swapped in, so a reader never sees half a spec.
    """
    destination = parent / name
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=parent))
    try:
        (staging / _SPEC_FILE).write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
        for file_name, text in (files or {}).items():
            (staging / file_name).write_text(text, encoding="utf-8")
        staging.chmod(0o755)
        if destination.exists():
            shutil.rmtree(destination)
        staging.rename(destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return destination


_LAUNCHER_MAIN = """

if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("-f", dest="connection_file", required=True)
    parser.add_argument("--backend", default="asyncio")
    arguments = parser.parse_args()
    {call}(connection_file=arguments.connection_file, backend=arguments.backend)
"""


def _launcher_script(launcher: Callable[..., object] | str) -> str:
    """The source of the script that runs ``launcher`` when Jupyter starts the kernel."""
    header = "# Written by async_kernel.write_kernel_spec: starts this spec's kernel.\n"
    if isinstance(launcher, str):
        module, _, function = launcher.partition(":")
        if not module or not function.isidentifier():
            raise ValueError(f"a launcher path must read 'module:function', not {launcher!r}")
        body = f"from {module} import {function} as launch\n"
        return header + body + _LAUNCHER_MAIN.format(call="launch")
    import inspect
    import textwrap

    function_name = getattr(launcher, "__name__", "")
    if not function_name.isidentifier() or "<locals>" in getattr(launcher, "__qualname__", ""):
        raise ValueError(
            f"the launcher {launcher!r} must be a module-level function (its source is copied)"
        )
    try:
        source = textwrap.dedent(inspect.getsource(launcher))
    except (OSError, TypeError) as exc:
        raise ValueError(f"cannot read the source of the launcher {launcher!r}: {exc}") from exc
    return header + source + _LAUNCHER_MAIN.format(call=function_name)


def remove_kernel_spec(name: str = DEFAULT_NAME, *, prefix: str | None = None) -> Path:
    """Remove the async-kernel spec that Jupyter would pick for a name.

    Args:
        name: The spec name.
        prefix: Look only under `<prefix>/share/jupyter` instead of Jupyter's search path.

    Returns:
        The directory that was removed. A spec of the same name further down Jupyter's search
        path (for example a user spec shadowed by an environment one) is left alone.

    Raises:
        InvalidKernelNameError: The name has characters Jupyter does not allow.
        KernelSpecNotFoundError: No spec of that name was found.
        ForeignKernelSpecError: The spec starts another kernel.
    """
    name = check_kernel_name(name)
    searched = _search_dirs(prefix)
    for directory in searched:
        spec_dir = directory / name
        if not spec_dir.is_dir():
            continue
        spec = _read_spec(spec_dir)
        if spec is None or not _is_ours(spec):
            raise ForeignKernelSpecError(
                f"{spec_dir} holds a kernel spec that does not start async-kernel; not removing it"
            )
        shutil.rmtree(spec_dir)
        return spec_dir
    raise KernelSpecNotFoundError(
        f"no kernel spec named {name!r} in: {', '.join(str(path) for path in searched)}"
    )


def list_kernel_specs(
    *, prefix: str | None = None, folder: str | None = None
) -> list[InstalledKernelSpec]:
    """Return the async-kernel specs Jupyter can see, sorted by name.

    Args:
        prefix: Look only under `<prefix>/share/jupyter` instead of Jupyter's search path.
        folder: Look only in this `kernels` folder.

    Where several directories hold a spec of the same name, the first on the search path wins,
    as in Jupyter; specs of other kernels are left out.
    """
    found: dict[str, InstalledKernelSpec] = {}
    seen: set[str] = set()
    for directory in [Path(folder)] if folder is not None else _search_dirs(prefix):
        if not directory.is_dir():
            continue
        for spec_dir in sorted(directory.iterdir()):
            name = spec_dir.name.lower()
            if name in seen or not _KERNEL_NAME.fullmatch(name):
                continue
            spec = _read_spec(spec_dir)
            if spec is None:
                continue
            seen.add(name)
            if _is_ours(spec):
                found[name] = InstalledKernelSpec(
                    name=name,
                    path=spec_dir,
                    backend=_backend_of(spec["argv"]),
                    display_name=str(spec.get("display_name", name)),
                )
    return [found[name] for name in sorted(found)]


def _search_dirs(prefix: str | None) -> list[Path]:
    """Return the `kernels` directories to search, in Jupyter's order of precedence."""
    if prefix is not None:
        return [kernels_dir(prefix=prefix)]
    from jupyter_core.paths import jupyter_path  # a slow import (0.1 s): only when needed

    return [Path(path) for path in jupyter_path("kernels")]


def _read_spec(spec_dir: Path) -> dict[str, Any] | None:
    """Return a spec directory's `kernel.json` as a dict, or None if it is missing or broken."""
    try:
        spec = json.loads((spec_dir / _SPEC_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return spec if isinstance(spec, dict) else None


def _is_ours(spec: dict[str, Any]) -> bool:
    """Tell whether a spec starts async-kernel (`-m async_kernel` or the `async-kernel` script)."""
    metadata = spec.get("metadata")
    if isinstance(metadata, dict) and "async_kernel" in metadata:
        return True  # written by write_kernel_spec with a command or launcher of its own
    argv = spec.get("argv")
    if not isinstance(argv, list) or not argv:
        return False
    words = [str(word) for word in argv]
    if Path(words[0]).stem == "async-kernel":
        return True
    return any(
        flag == "-m" and module == "async_kernel" for flag, module in itertools.pairwise(words)
    )


def _backend_of(argv: list[Any]) -> str:
    """Return the backend a spec's command line asks for."""
    words = [str(word) for word in argv]
    for index, word in enumerate(words):
        if word in ("--backend", "--interface.backend") and index + 1 < len(words):
            return words[index + 1]
        for flag in ("--backend=", "--interface.backend="):
            if word.startswith(flag):
                return word.removeprefix(flag)
    return BUILTIN_BACKEND
