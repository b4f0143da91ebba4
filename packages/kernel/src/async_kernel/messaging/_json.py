"""JSON encoding for messages: orjson when it is installed, the standard library otherwise.

Messages carry user data (display outputs, comm payloads) that may hold values JSON lacks,
such as datetimes or numpy scalars; both paths fall back to ``str`` rather than failing the
whole message.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["dumps", "loads"]


def _default(value: object) -> object:
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _std_dumps(obj: object) -> bytes:
    return json.dumps(
        obj, default=_default, ensure_ascii=False, allow_nan=True, separators=(",", ":")
    ).encode("utf-8", "surrogatepass")


def _std_loads(data: bytes | memoryview) -> Any:
    return json.loads(bytes(data))


dumps: Callable[[object], bytes] = _std_dumps
loads: Callable[[bytes | memoryview], Any] = _std_loads

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is optional
    pass
else:
    _ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY

    def _orjson_dumps(obj: object) -> bytes:
        try:
            encoded = orjson.dumps(obj, default=_default, option=_ORJSON_OPTIONS)
        except (TypeError, ValueError):
            # orjson rejects what json accepts in a few corners (big ints, NaN handling):
            # fall back rather than lose the message.
            return _std_dumps(obj)
        # orjson's result keeps the whole buffer it grew while encoding: 4 KiB for a
        # 200-byte header, about ten times the size for large ones. A right-sized copy keeps
        # queued messages small (1,000 waiting replies held 10 MiB); formatting is the
        # cheapest copy, ~50 ns for a header (bytes() and slices return the same object).
        return b"%b" % encoded

    def _orjson_loads(data: bytes | memoryview) -> Any:
        return orjson.loads(data)

    dumps = _orjson_dumps
    loads = _orjson_loads
