"""Running a piece of cell code in whatever event loop calls it, top-level ``await`` included.

The ``%thread``, ``%asyncio`` and ``%trio`` magics hand code to a worker's loop; IPython's own
runner belongs to the shell's cell and its execution count, so the code is compiled here:
statements run, and the value of a last expression is returned, as a cell's would be shown.
"""

from __future__ import annotations

import ast
import inspect
from typing import Any

__all__ = ["run_code"]

_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


async def run_code(
    source: str, global_ns: dict[str, Any], local_ns: dict[str, Any] | None, filename: str
) -> Any:
    """Run ``source`` (statements, maybe awaiting) in the current loop; return its last value.

    ``local_ns`` is the namespace of a function that called the magic (None at a cell's top
    level): its names are visible, and new ones go there.
    """
    tree = ast.parse(source, filename, "exec")
    last: ast.Expression | None = None
    final = tree.body[-1] if tree.body else None
    if isinstance(final, ast.Expr):
        tree.body.pop()
        last = ast.Expression(final.value)
    if tree.body:
        await _evaluate(compile(tree, filename, "exec", flags=_FLAGS), global_ns, local_ns)
    if last is None:
        return None
    return await _evaluate(compile(last, filename, "eval", flags=_FLAGS), global_ns, local_ns)


async def _evaluate(code: Any, global_ns: dict[str, Any], local_ns: dict[str, Any] | None) -> Any:
    result = eval(code, global_ns, local_ns)
    if code.co_flags & inspect.CO_COROUTINE:
        result = await result
    return result
