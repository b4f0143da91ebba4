"""Routing a cell's runner-like call sites through the kernel's own-loop helper.

A cell may call ``asyncio.run(...)``, ``loop.run_until_complete(...)``, ``anyio.run(...)``,
``trio.run(...)``, ``sync_playwright()`` or ``nest_asyncio.apply()`` (see
``runtime._own_loops``). The compiler cannot know what a name will hold when the line runs, so
every call whose callee is *named* like one of those is rewritten from ``f(args)`` to
``__async_kernel_own_loop__(f)(args)``: the helper returns ``f`` itself unless ``f`` is really
a runner called in a cell. The callee and the arguments are evaluated in the same order as
before, and the source lines (which tracebacks show) are unchanged.

Cells whose text has none of those names are not walked at all (one regular expression over
the source): the rewrite costs nothing on the hot path of an ordinary cell.
"""

from __future__ import annotations

import ast
import re

from ..runtime._own_loops import HELPER_NAME

__all__ = ["RUNNER_WORD", "OwnLoopCalls"]

RUNNER_NAMES = frozenset({"run", "run_until_complete", "run_forever", "sync_playwright", "apply"})
"""Callee names whose call sites go through the helper (``asyncio.run``, ``x.run``, ``run``)."""

RUNNER_WORD = re.compile(r"\b(?:run|run_until_complete|run_forever|sync_playwright|apply)\b")
"""Found in the text of a cell whose AST is rewritten (a C-level search: no Python frame)."""


class OwnLoopCalls(ast.NodeTransformer):
    """Rewrites ``f(args)`` to ``__async_kernel_own_loop__(f)(args)`` where ``f`` is runner-named."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        """Rewrite the call if its callee is named like a runner, after its inner calls."""
        self.generic_visit(node)
        callee = node.func
        if isinstance(callee, ast.Attribute):
            name = callee.attr
        elif isinstance(callee, ast.Name):
            name = callee.id
        else:
            return node
        if name not in RUNNER_NAMES:
            return node
        helper = ast.Name(id=HELPER_NAME, ctx=ast.Load())
        node.func = ast.Call(func=helper, args=[callee], keywords=[])
        ast.copy_location(helper, callee)
        ast.copy_location(node.func, callee)
        return node
