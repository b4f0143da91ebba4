"""Small steps the GUI tests share: running cells that must succeed or fail."""

from __future__ import annotations

import base64
import struct
from typing import TYPE_CHECKING, Any

from tests.kernel_fixtures import outputs

if TYPE_CHECKING:
    from tests.kernel_fixtures import KernelHarness


def ok(kernel: KernelHarness, code: str) -> list[dict[str, Any]]:
    """Run ``code``, check it succeeded and return its iopub messages."""
    reply, messages = kernel.execute(code)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert outputs(messages, "error") == []
    return messages


def fails(kernel: KernelHarness, code: str) -> dict[str, Any]:
    """Run ``code``, check it failed, and return its first error (ename, evalue, traceback)."""
    reply, messages = kernel.execute(code)
    content = reply["content"]
    assert content["status"] == "error", content
    error, *_ = outputs(messages, "error")
    assert error["ename"] == content["ename"]
    return error


def result(kernel: KernelHarness, code: str) -> str:
    """Run ``code`` and return the text/plain of its execute_result."""
    (value,) = outputs(ok(kernel, code), "execute_result")
    return value["data"]["text/plain"]


def png_size(encoded: str) -> tuple[int, int]:
    """Width and height of a base64 PNG, read from its header."""
    header = base64.b64decode(encoded)[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height
