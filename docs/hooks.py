"""MkDocs hooks: parts of pages generated from the code, so they cannot drift from it.

``<!-- run-modes-table -->`` in a page becomes the table of default run modes, read from
``async_kernel._dispatcher.DEFAULT_RUN_MODES`` when the site is built.
"""

from __future__ import annotations

from typing import Any

RUN_MODES_MARKER = "<!-- run-modes-table -->"


def run_modes_table() -> str:
    """The default run mode of each request type on the shell and control channels."""
    from async_kernel._dispatcher import DEFAULT_RUN_MODES
    from async_kernel.messaging._message import Channel

    rows = ["| request | shell | control |", "|---|---|---|"]
    for msg_type, modes in sorted(DEFAULT_RUN_MODES.items()):
        shell = modes.get(Channel.shell)
        control = modes.get(Channel.control)
        rows.append(
            f"| `{msg_type}` | {shell.value if shell else '-'} | "
            f"{control.value if control else '-'} |"
        )
    return "\n".join(rows)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Fill in the generated parts of a page."""
    del kwargs
    if RUN_MODES_MARKER in markdown:
        markdown = markdown.replace(RUN_MODES_MARKER, run_modes_table())
    return markdown
