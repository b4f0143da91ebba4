"""``!cmd``, ``%pip`` and ``%uv`` that leave the event loop running.

At the top level of a cell, IPython turns ``!cmd`` into ``get_ipython().system('cmd')`` and
``%pip ...`` into ``get_ipython().run_line_magic('pip', '...')``. :class:`TopLevelCommands`
rewrites those statements to await :func:`run_command` instead: the command's output streams to
the cell as it comes, and the cell's event loop goes on meanwhile (comms, ``# task`` cells,
subshells). An interrupt cancels the await, which ends the command's whole process group.

Anywhere else (inside a function, an expression, ``x = !cmd``) IPython's blocking forms run.

``%pip`` runs ``python -m pip`` in the kernel's environment, or ``uv pip ... --python
<kernel's python>`` where that environment has no pip (one made by uv). ``%uv`` runs uv with
the kernel's Python as its target.
"""

from __future__ import annotations

import ast
import codecs
import contextlib
import importlib.util
import os
import shlex
import shutil
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

import anyio
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "RESTART_NOTE",
    "PackageMagics",
    "TopLevelCommands",
    "changes_packages",
    "package_command",
    "run_command",
]

RESTART_NOTE = "Note: you may need to restart the kernel to use updated packages.\n"


async def run_command(command: str) -> int:
    """Run ``command`` in a shell, streaming its output to ``sys.stdout``/``sys.stderr``.

    Runs in the calling cell's event loop, asyncio or trio. The command gets a process group
    of its own; cancelling (an interrupt) ends the group and re-raises.

    Returns:
        The command's exit status (negative: the signal that ended it).
    """
    process = await anyio.open_process(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        async with anyio.create_task_group() as group:
            if process.stdout is not None:
                group.start_soon(_copy, process.stdout, lambda: sys.stdout)
            if process.stderr is not None:
                group.start_soon(_copy, process.stderr, lambda: sys.stderr)
        return await process.wait()
    except BaseException:
        _end_group(process.pid)
        with anyio.CancelScope(shield=True):
            await process.wait()
        raise
    finally:
        await process.aclose()


async def _copy(source: anyio.abc.ByteReceiveStream, target: Callable[[], object]) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    async for chunk in source:
        text = decoder.decode(chunk)
        if text:
            stream = target()
            stream.write(text)  # pyright: ignore[reportAttributeAccessIssue]
    tail = decoder.decode(b"", final=True)
    if tail:
        target().write(tail)  # pyright: ignore[reportAttributeAccessIssue]


def _end_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def package_command(tool: str, line: str) -> str:
    """The shell command ``%pip LINE`` or ``%uv LINE`` runs, for the kernel's environment.

    Raises:
        UsageError: neither pip nor uv is there to run.
    """
    python = shlex.quote(sys.executable)
    if tool == "pip" and importlib.util.find_spec("pip") is not None:
        return f"{python} -m pip {line}"
    uv = _find_uv()
    if uv is None:
        if tool == "pip":
            msg = "%pip: neither pip nor uv is installed for this kernel; install one of them"
        else:
            msg = "%uv: uv is not installed for this kernel; install it with: pip install uv"
        raise UsageError(msg)
    words = shlex.split(line)
    if tool == "pip":
        words = ["pip", *words]
    if words[:1] == ["pip"] and not {"--python", "-p", "--system"} & set(words):
        words += ["--python", sys.executable]
    return " ".join(shlex.quote(word) for word in [uv, *words])


def _find_uv() -> str | None:
    """The uv executable: on PATH, or the one the ``uv`` Python package ships."""
    found = shutil.which("uv")
    if found is not None:
        return found
    with contextlib.suppress(ImportError, FileNotFoundError):
        from uv import find_uv_bin  # pyright: ignore[reportMissingImports]

        return str(find_uv_bin())
    return None


@magics_class
class PackageMagics(Magics):
    """``%pip`` and ``%uv`` for the kernel's environment (blocking forms; see the module)."""

    @line_magic
    def pip(self, line: str) -> None:
        """Run pip for the kernel's environment (``uv pip`` where there is no pip)."""
        self._run("pip", line)

    @line_magic
    def uv(self, line: str) -> None:
        """Run uv with the kernel's Python as the target of ``uv pip``."""
        self._run("uv", line)

    def _run(self, tool: str, line: str) -> None:
        shell = self.shell
        assert shell is not None
        shell.system(package_command(tool, line))
        if changes_packages(line):
            sys.stdout.write(RESTART_NOTE)


def changes_packages(line: str) -> bool:
    """Whether ``%pip LINE`` or ``%uv LINE`` may change what is installed (then: restart)."""
    words = line.split()
    if words[:1] == ["pip"]:
        words = words[1:]
    return words[:1] in (["install"], ["uninstall"], ["sync"], ["add"], ["remove"])


class TopLevelCommands(ast.NodeTransformer):
    """Rewrites a cell's top-level ``!cmd``, ``%pip`` and ``%uv`` to await their command."""

    def visit_Module(self, node: ast.Module) -> ast.Module:
        """Rewrite the statements of the cell itself, not those inside its functions."""
        node.body = [self._rewrite(statement) for statement in node.body]
        return node

    def _rewrite(self, statement: ast.stmt) -> ast.stmt:
        if not isinstance(statement, ast.Expr):
            return statement
        call = statement.value
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Call)
            and isinstance(call.func.value.func, ast.Name)
            and call.func.value.func.id == "get_ipython"
            and not call.keywords
        ):
            return statement
        method = call.func.attr
        if method == "system" and len(call.args) == 1:
            target = "system_async"
        elif (
            method == "run_line_magic"
            and len(call.args) == 2
            and isinstance(call.args[0], ast.Constant)
            and call.args[0].value in ("pip", "uv")
        ):
            target = "package_command_async"
        else:
            return statement
        call.func.attr = target
        awaited = ast.Expr(ast.Await(call))
        return ast.fix_missing_locations(ast.copy_location(awaited, statement))
