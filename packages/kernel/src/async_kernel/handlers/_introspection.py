"""Handlers that look at code without running it: complete, inspect, is_complete, history.

They run in worker threads (``thread`` run mode), so they answer while a cell blocks the
shell's thread. IPython's completer and inspector keep per-call state on shared objects (the
inspector's colouriser writes to ``self.out``), so these handlers take turns on one lock: two
inspects at once would otherwise corrupt each other. They still never wait for a cell.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any

from IPython.core.completer import provisionalcompleter, rectify_completions
from IPython.utils.tokenutil import token_at_cursor

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..messaging._message import Message
    from ..shell._shell import KernelShell
    from ._protocols import Sender

__all__ = ["IntrospectionHandler"]


def _cursor(content: dict[str, Any], code: str) -> int:
    cursor_pos = content.get("cursor_pos")
    if cursor_pos is None:
        return len(code)
    if not isinstance(cursor_pos, int) or not 0 <= cursor_pos <= len(code):
        msg = f"cursor_pos must be an integer between 0 and {len(code)}, got {cursor_pos!r}"
        raise ValueError(msg)
    return cursor_pos


def _code(content: dict[str, Any]) -> str:
    code = content.get("code", "")
    if not isinstance(code, str):
        raise TypeError("content.code must be a string")
    return code


def _one_at_a_time(
    handler: Callable[[IntrospectionHandler, Message], None],
) -> Callable[[IntrospectionHandler, Message], None]:
    @functools.wraps(handler)
    def locked(self: IntrospectionHandler, msg: Message) -> None:
        with self._lock:
            handler(self, msg)

    return locked


class IntrospectionHandler:
    """complete_request, inspect_request, is_complete_request and history_request."""

    def __init__(self, sender: Sender, shell: KernelShell) -> None:
        self._sender = sender
        self._shell = shell
        self._lock = threading.Lock()

    @_one_at_a_time
    def complete_request(self, msg: Message) -> None:
        """Reply with completions at the cursor (unicode code points, as the spec says)."""
        code = _code(msg.content)
        cursor_pos = _cursor(msg.content, code)
        shell = self._shell
        with provisionalcompleter():
            completions = list(
                rectify_completions(code, shell.Completer.completions(code, cursor_pos))
            )
        start, end = (
            (completions[0].start, completions[0].end) if completions else (cursor_pos, cursor_pos)
        )
        types = [
            {
                "start": c.start,
                "end": c.end,
                "text": c.text,
                "type": c.type,
                "signature": c.signature,
            }
            for c in completions
        ]
        self._sender.reply(
            msg,
            "complete_reply",
            {
                "status": "ok",
                "matches": [c.text for c in completions],
                "cursor_start": start,
                "cursor_end": end,
                "metadata": {"_jupyter_types_experimental": types},
            },
        )

    @_one_at_a_time
    def inspect_request(self, msg: Message) -> None:
        """Reply with help for the name at the cursor (``detail_level`` 1 includes source)."""
        code = _code(msg.content)
        cursor_pos = _cursor(msg.content, code)
        detail_level = msg.content.get("detail_level", 0)
        if detail_level not in (0, 1):
            raise ValueError(f"detail_level must be 0 or 1, got {detail_level!r}")
        name = token_at_cursor(code, cursor_pos)
        shell = self._shell
        try:
            bundle = shell.object_inspect_mime(name, detail_level=detail_level)
            found = True
        except KeyError:
            bundle, found = {}, False
        self._sender.reply(
            msg, "inspect_reply", {"status": "ok", "found": found, "data": bundle, "metadata": {}}
        )

    @_one_at_a_time
    def is_complete_request(self, msg: Message) -> None:
        """Reply whether the code is a complete statement, and the indent for the next line."""
        code = _code(msg.content)
        status, indent_spaces = self._shell.input_transformer_manager.check_complete(code)
        content: dict[str, Any] = {"status": status}
        if status == "incomplete":
            content["indent"] = " " * (indent_spaces or 0)
        self._sender.reply(msg, "is_complete_reply", content)

    @_one_at_a_time
    def history_request(self, msg: Message) -> None:
        """Reply with history entries: ``tail``, ``range`` or ``search``."""
        content = msg.content
        manager = self._shell.history_manager
        assert manager is not None
        manager.writeout_cache()
        raw = bool(content.get("raw", True))
        output = bool(content.get("output", False))
        access = content.get("hist_access_type", "tail")
        if access == "tail":
            entries = manager.get_tail(
                int(content.get("n", 10)), raw=raw, output=output, include_latest=True
            )
        elif access == "range":
            entries = manager.get_range(
                int(content.get("session", 0)),
                int(content.get("start", 1)),
                content.get("stop"),
                raw=raw,
                output=output,
            )
        elif access == "search":
            n = content.get("n")
            entries = manager.search(
                str(content.get("pattern", "*")),
                raw=raw,
                search_raw=raw,
                output=output,
                n=None if n is None else int(n),
                unique=bool(content.get("unique", False)),
            )
        else:
            msg_text = f"hist_access_type must be 'tail', 'range' or 'search', got {access!r}"
            raise ValueError(msg_text)
        # IPython numbers the in-memory current session 0; clients know it by its real number.
        current = manager.session_number
        history = [
            [session or current, line, list(entry) if isinstance(entry, tuple) else entry]
            for session, line, entry in entries
        ]
        self._sender.reply(msg, "history_reply", {"status": "ok", "history": history})
