"""Cell directives: how a cell asks to run, in its first line or in a cell tag.

One grammar serves both places. A directive is a keyword, some take a value
(``timeout=2``) and ``thread`` takes options (``thread name="io" backend=trio``); several
can share a line (``# thread timeout=5``). A first-line comment is read only when its first
word after the ``#`` signs is a keyword, so ordinary comments stay comments; a tag is read
only when its first word is one, so tags of other tools (papermill's ``parameters``) are
ignored. Once a keyword is seen, anything that does not fit is an error that names what
is allowed: a typo must not silently run the cell some other way.

Parsed twice per cell, cheaply: by the dispatcher (IO thread) for the run mode, and by the
execute handler (the cell's thread) for the rest, where a mistake becomes the cell's error.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from async_caller import BACKENDS

from .._exceptions import CellDirectiveError

if TYPE_CHECKING:
    from ..messaging._message import Message

__all__ = [
    "NO_DIRECTIVES",
    "RUN_MODE_KEYWORDS",
    "CellDirectives",
    "parse_directives",
    "parse_line",
]

RUN_MODE_KEYWORDS = ("task", "queue", "thread")
"""Keywords that choose where the cell runs (at most one per cell)."""

_FLAGS = ("raises-exception",)
_VALUED = ("timeout", "stop-on-error")
KEYWORDS = (*RUN_MODE_KEYWORDS, *_FLAGS, *_VALUED)
_THREAD_OPTIONS = ("name", "backend")

_TOKEN = re.compile(
    r"""\s*(?P<word>[A-Za-z_][\w-]*)
        (?:\s*=\s*(?P<value>"[^"]*"|'[^']*'|[^\s"']+))?""",
    re.VERBOSE,
)
_FIRST_WORD = re.compile(r"\s*([A-Za-z_][\w-]*)\s*(?:=|$|\s)")


@dataclass(frozen=True, slots=True)
class CellDirectives:
    """What a cell's directives ask for; the defaults are a plain cell's."""

    run_mode: str | None = None
    """``"task"``, ``"queue"`` or ``"thread"``, or None for the kernel's default (queue)."""
    thread_name: str | None = None
    """For ``thread name=...``: the named worker the cell runs in (created on first use)."""
    thread_backend: str | None = None
    """For ``thread backend=...``: the event loop of that worker."""
    timeout: float | None = None
    """Seconds after which the cell is interrupted."""
    raises_exception: bool = False
    """The cell is expected to fail: its error does not abort the cells queued behind it."""
    stop_on_error: bool | None = None
    """Overrides the request's ``stop_on_error`` when set."""
    named_thread: bool = False
    """The cell runs in a named worker caller rather than the worker pool (``thread`` with a
    name or a backend). A field, not a property: plain cells read it on the hot path."""


NO_DIRECTIVES = CellDirectives()
"""A plain cell's: what the dispatcher and the execute handler use without parsing anything
when the first line is no comment and there are no tags (most cells)."""


def parse_directives(message: Message) -> CellDirectives:
    """Read the directives of an execute_request: its first line and its tags.

    Raises:
        CellDirectiveError: a directive keyword has a bad or unknown argument, or the cell
            asks for two run modes.
    """
    values: dict[str, object] = {}
    code = message.content.get("code")
    if isinstance(code, str):
        first_line = code.lstrip("\n").split("\n", 1)[0].strip()
        if first_line.startswith("#"):
            parse_line(first_line.lstrip("#"), values, where="the cell's first line")
    tags = message.metadata.get("tags")
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, str):
                parse_line(tag, values, where=f"the cell tag {tag!r}")
    if values.get("run_mode") == "thread" and (
        "thread_name" in values or "thread_backend" in values
    ):
        values["named_thread"] = True
    return CellDirectives(**values)  # pyright: ignore[reportArgumentType]


def parse_line(text: str, values: dict[str, object], *, where: str) -> None:
    """Add the directives in ``text`` (no ``#``) to ``values``; text not starting with one is skipped.

    Raises:
        CellDirectiveError: as :func:`parse_directives`.
    """
    first = _FIRST_WORD.match(text)
    if first is None or first.group(1) not in KEYWORDS:
        return
    position = 0
    keyword: str | None = None
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TOKEN.match(text, position)
        if match is None:
            rest = text[position:].strip()
            raise CellDirectiveError(f"cannot read {rest!r} in {where}; {_ALLOWED}")
        position = match.end()
        word, value = match.group("word"), _unquote(match.group("value"))
        if word in KEYWORDS:
            keyword = word
            _apply_keyword(word, value, values, where)
        elif keyword == "thread" and word in _THREAD_OPTIONS:
            _apply_thread_option(word, value, values, where)
        else:
            owner = f"after {keyword!r} " if keyword else ""
            allowed = (
                f"'thread' takes {' and '.join(o + '=...' for o in _THREAD_OPTIONS)}; "
                if keyword == "thread"
                else ""
            )
            raise CellDirectiveError(
                f"unknown argument {word!r} {owner}in {where}; {allowed}{_ALLOWED}"
            )


_ALLOWED = (
    "cell directives are: task, queue, thread [name=NAME] [backend=asyncio|trio], "
    "timeout=SECONDS, raises-exception, stop-on-error=true|false"
)


def _unquote(value: str | None) -> str | None:
    if value is not None and len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _apply_keyword(keyword: str, value: str | None, values: dict[str, object], where: str) -> None:
    if keyword in RUN_MODE_KEYWORDS or keyword in _FLAGS:
        if value is not None:
            raise CellDirectiveError(
                f"{keyword!r} takes no value, but {where} gives it {value!r}; {_ALLOWED}"
            )
        if keyword in _FLAGS:
            values["raises_exception"] = True
            return
        chosen = values.get("run_mode")
        if chosen is not None and chosen != keyword:
            raise CellDirectiveError(
                f"{where} asks for run mode {keyword!r} after {chosen!r}; a cell runs in one "
                f"of: {', '.join(RUN_MODE_KEYWORDS)}"
            )
        values["run_mode"] = keyword
        return
    if value is None:
        form = "timeout=SECONDS" if keyword == "timeout" else "stop-on-error=true|false"
        raise CellDirectiveError(f"{keyword!r} needs a value in {where}: write {form}")
    if keyword == "timeout":
        try:
            seconds = float(value)
        except ValueError:
            seconds = math.nan
        if not (seconds > 0 and math.isfinite(seconds)):
            raise CellDirectiveError(
                f"bad timeout {value!r} in {where}: give a positive number of seconds, "
                "as in timeout=2.5"
            )
        values["timeout"] = seconds
        return
    flag = value.lower()
    if flag not in ("true", "false"):
        raise CellDirectiveError(
            f"bad stop-on-error value {value!r} in {where}: use stop-on-error=true or "
            "stop-on-error=false"
        )
    values["stop_on_error"] = flag == "true"


def _apply_thread_option(
    option: str, value: str | None, values: dict[str, object], where: str
) -> None:
    if not value:
        raise CellDirectiveError(f"thread option {option!r} needs a value in {where}")
    if option == "backend":
        if value not in BACKENDS:
            raise CellDirectiveError(
                f"unknown backend {value!r} for 'thread' in {where}; use one of: "
                f"{', '.join(BACKENDS)}"
            )
        values["thread_backend"] = value
    else:
        values["thread_name"] = value
