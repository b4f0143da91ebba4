"""Debug Adapter Protocol messages: building responses and checking request arguments.

DAP messages are JSON objects. A response echoes its request's ``seq`` as ``request_seq`` and
its ``command``; a failure has ``success: false`` and a ``message`` for the user. Malformed
arguments raise :class:`DapError`, which becomes such a response.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DapError",
    "DapMessage",
    "error_response",
    "identifier_argument",
    "integer_argument",
    "source_path_argument",
    "success_response",
]

DapMessage = dict[str, Any]
"""One DAP request, response or event, as decoded JSON."""


class DapError(Exception):
    """A request the debugger cannot carry out; its message goes to the frontend."""


def success_response(request: DapMessage, body: dict[str, Any] | None = None) -> DapMessage:
    """A successful response to ``request``, answered by the kernel itself."""
    return {
        "type": "response",
        "seq": 0,
        "request_seq": request.get("seq", 0),
        "success": True,
        "command": request.get("command", ""),
        "body": body or {},
    }


def error_response(request: DapMessage, message: str) -> DapMessage:
    """A failed response to ``request`` that tells the user why."""
    response = success_response(request)
    response["success"] = False
    response["message"] = message
    return response


def identifier_argument(arguments: DapMessage, key: str, command: str) -> str:
    """``arguments[key]``, which must be a Python name (it is put into evaluated code)."""
    value = arguments.get(key)
    if not isinstance(value, str) or not value.isidentifier():
        raise DapError(f"{command!r} needs arguments.{key}: a Python name, not {value!r}")
    return value


def integer_argument(arguments: DapMessage, key: str, command: str) -> int:
    """``arguments[key]``, which must be an integer (an id from an earlier response)."""
    value = arguments.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise DapError(f"{command!r} needs arguments.{key}: an integer, not {value!r}")
    return value


def source_path_argument(arguments: DapMessage, command: str) -> str | None:
    """``arguments.source.path`` if it is a string, else None."""
    source = arguments.get("source")
    path = source.get("path") if isinstance(source, dict) else None
    return path if isinstance(path, str) else None
