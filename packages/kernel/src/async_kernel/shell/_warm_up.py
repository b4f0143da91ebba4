"""Warming up IPython's traceback formatter before the first cell fails.

IPython's first traceback imports stack_data, executing and asttokens and compiles pygments'
terminal formatter: about 35 ms, which would otherwise delay the reply of the first cell that
fails. The warm-up formats a one-line snippet of its own rather than a frame of a kernel
module: stack_data keeps the parsed source (AST and tokens) of every file it shows, and the
430 lines of the module that raised cost 2 MiB for the life of the kernel.
"""

from __future__ import annotations

import linecache

from IPython.core.ultratb import VerboseTB

__all__ = ["warm_up_tracebacks"]

_SNIPPET = "raise RuntimeError('warming up the traceback formatter')\n"
_SNIPPET_NAME = "<async-kernel traceback warm-up>"


def warm_up_tracebacks(theme: str) -> None:
    """Format a throwaway traceback so that a user's first error skips the imports (any thread)."""
    linecache.cache[_SNIPPET_NAME] = (len(_SNIPPET), None, [_SNIPPET], _SNIPPET_NAME)
    try:
        exec(compile(_SNIPPET, _SNIPPET_NAME, "exec"), {})  # noqa: S102 - our own constant
    except RuntimeError as exc:
        # Skip this function's own frame: only the snippet's is formatted and parsed.
        snippet_frames = exc.__traceback__.tb_next if exc.__traceback__ else None
        VerboseTB(theme_name=theme).structured_traceback(type(exc), exc, snippet_frames)
    finally:
        linecache.cache.pop(_SNIPPET_NAME, None)
