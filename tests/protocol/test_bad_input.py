"""Bad input over the wire: logged, answered with an error reply where the spec allows, and
never a crash or a lost reply for the good requests sent before and after it.

Each test sends a good kernel_info_request, the bad message, and another good one on the same
socket, then reads replies until the second good one's. kernel_info and rejections are handled
in the kernel's IO thread in arrival order, so a reply to the bad message would arrive before
that: what was read is exactly what the kernel answered.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.kernel_fixtures import running_kernel
from tests.protocol.conftest import BACKENDS
from tests.protocol.raw_wire import DELIMITER, RawClient, header

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.kernel_fixtures import KernelHarness


class LoggedKernel:
    """A kernel whose log goes to a file, and a raw client connected to it."""

    def __init__(self, harness: KernelHarness, log_path: Path) -> None:
        self.harness = harness
        self.log_path = log_path
        self.raw = RawClient.for_kernel(harness)
        self._log_offset = 0

    def new_log(self) -> str:
        """The kernel's log written since the last call."""
        text = self.log_path.read_text(errors="replace")
        new, self._log_offset = text[self._log_offset :], len(text)
        return new

    def around(
        self, send_bad: Any, channel: str = "shell", late_reply_to: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """Send good, bad, good; return the replies other than the good ones, and the log.

        Replies are read up to the second good one's, and on to the reply to
        ``late_reply_to`` if given: a bad request whose handler runs outside the IO thread
        (in a queue or a worker thread) may be answered in any order with the good ones.
        """
        raw = self.raw
        self.new_log()
        first = raw.request(channel, "kernel_info_request")
        send_bad()
        second = raw.request(channel, "kernel_info_request")
        waiting = {second} if late_reply_to is None else {second, late_reply_to}
        replies: list[dict[str, Any]] = []
        while waiting:
            replies.append(raw.receive(channel))
            waiting.discard(replies[-1]["parent_header"].get("msg_id"))
        by_id = {reply["parent_header"].get("msg_id"): reply for reply in replies}
        assert replies[0]["parent_header"]["msg_id"] == first
        for good in (by_id[first], by_id[second]):
            assert good["msg_type"] == "kernel_info_reply"
            assert good["content"]["status"] == "ok"
        bad = [r for r in replies if r["parent_header"].get("msg_id") not in (first, second)]
        return bad, self.new_log()


@pytest.fixture(scope="module", params=BACKENDS)
def logged(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LoggedKernel]:
    """One kernel per backend for this module, logging to a file."""
    folder = tmp_path_factory.mktemp("bad-input")
    log_path = folder / "kernel.log"
    with running_kernel(folder, request.param, log_path=log_path) as harness:
        logged = LoggedKernel(harness, log_path)
        try:
            yield logged
        finally:
            logged.raw.close()
    assert logged.raw.key.decode() not in log_path.read_text(errors="replace")


def _send(logged: LoggedKernel, frames: list[bytes], channel: str = "shell") -> Any:
    return lambda: logged.raw.send_frames(channel, frames)


def test_badly_signed_message_is_dropped_and_logged(logged: LoggedKernel) -> None:
    frames = logged.raw.frames(header("execute_request"), {"code": "1"}, signature=b"0" * 64)
    bad, log = logged.around(_send(logged, frames))
    assert bad == []
    assert "invalid message signature" in log


def test_unsigned_message_is_rejected_when_a_key_is_set(logged: LoggedKernel) -> None:
    frames = logged.raw.frames(header("kernel_info_request"), signature=b"")
    bad, log = logged.around(_send(logged, frames))
    assert bad == []
    assert "unsigned message rejected" in log


@pytest.mark.parametrize("channel", ["shell", "control"])
def test_replayed_message_is_rejected(logged: LoggedKernel, channel: str) -> None:
    msg_header = header("kernel_info_request")
    frames = logged.raw.frames(msg_header)

    def send_twice() -> None:
        logged.raw.send_frames(channel, frames)
        logged.raw.send_frames(channel, frames)

    bad, log = logged.around(send_twice, channel)
    assert [reply["parent_header"]["msg_id"] for reply in bad] == [msg_header["msg_id"]]
    assert "replayed message rejected" in log


@pytest.mark.parametrize(
    ("raw_header", "logged_reason"),
    [
        pytest.param(b'{"msg_type": "kernel_info_re', "header is not valid JSON", id="json"),
        pytest.param(b'["kernel_info_request"]', "header must be a JSON object", id="array"),
        pytest.param(
            json.dumps({"msg_id": "m1", "session": "s"}).encode(),
            "header.msg_type is missing",
            id="no-msg-type",
        ),
        pytest.param(
            json.dumps({"msg_type": "kernel_info_request"}).encode(),
            "header.msg_id is missing",
            id="no-msg-id",
        ),
        pytest.param(
            json.dumps({"msg_type": 7, "msg_id": "m2"}).encode(),
            "header.msg_type is missing or not a non-empty string",
            id="msg-type-number",
        ),
        pytest.param(
            json.dumps({"msg_type": "kernel_info_request", "msg_id": ["m3"]}).encode(),
            "header.msg_id is missing or not a non-empty string",
            id="msg-id-list",
        ),
        pytest.param(
            json.dumps(header("kernel_info_request", subshell_id=5)).encode(),
            "header.subshell_id must be a string or null",
            id="subshell-id-number",
        ),
    ],
)
def test_unusable_header_is_dropped_and_logged(
    logged: LoggedKernel, raw_header: bytes, logged_reason: str
) -> None:
    frames = logged.raw.frames({}, raw_parts={"header": raw_header})
    bad, log = logged.around(_send(logged, frames))
    assert bad == []
    assert logged_reason in log


@pytest.mark.parametrize(
    ("part", "raw", "logged_reason"),
    [
        pytest.param("content", b'{"code": ', "content is not valid JSON", id="content-json"),
        pytest.param("content", b"[1, 2]", "content must be a JSON object", id="content-array"),
        pytest.param("metadata", b"\xff\xfe", "metadata is not valid JSON", id="metadata-bytes"),
        pytest.param("parent_header", b"null", "parent_header must be a JSON", id="parent-null"),
    ],
)
@pytest.mark.parametrize("channel", ["shell", "control"])
def test_bad_part_after_a_good_header_gets_an_error_reply(
    logged: LoggedKernel, part: str, raw: bytes, logged_reason: str, channel: str
) -> None:
    msg_header = header("kernel_info_request")
    frames = logged.raw.frames(msg_header, raw_parts={part: raw})
    (reply,), log = logged.around(_send(logged, frames, channel), channel)
    assert reply["msg_type"] == "kernel_info_reply"
    assert reply["parent_header"]["msg_id"] == msg_header["msg_id"]
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "InvalidMessage"
    assert logged_reason in reply["content"]["evalue"]
    assert logged_reason in log


@pytest.mark.parametrize(
    "frames",
    [
        pytest.param([b"no delimiter at all"], id="no-delimiter"),
        pytest.param([DELIMITER, b"sig", b"{}"], id="too-few-frames"),
        pytest.param([DELIMITER], id="delimiter-only"),
    ],
)
def test_malformed_frames_are_dropped_and_logged(logged: LoggedKernel, frames: list[bytes]) -> None:
    bad, log = logged.around(_send(logged, frames))
    assert bad == []
    assert "rejected a message on shell" in log


@pytest.mark.parametrize("channel", ["shell", "control"])
def test_unknown_request_type_gets_an_error_reply(logged: LoggedKernel, channel: str) -> None:
    msg_header = header("no_such_thing_request")
    frames = logged.raw.frames(msg_header)
    (reply,), log = logged.around(_send(logged, frames, channel), channel)
    assert reply["msg_type"] == "no_such_thing_reply"
    assert reply["parent_header"]["msg_id"] == msg_header["msg_id"]
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "UnknownMessageType"
    assert "no_such_thing_request" in log


def test_unknown_message_that_is_no_request_is_logged_without_reply(logged: LoggedKernel) -> None:
    frames = logged.raw.frames(header("mystery_event"))
    bad, log = logged.around(_send(logged, frames))
    assert bad == []
    assert "mystery_event" in log


def test_shutdown_on_shell_is_an_unknown_request(logged: LoggedKernel) -> None:
    """The spec puts shutdown_request on control; on shell it is refused, not obeyed."""
    msg_header = header("shutdown_request")
    frames = logged.raw.frames(msg_header, {"restart": False})
    (reply,), _ = logged.around(_send(logged, frames))
    assert reply["content"]["ename"] == "UnknownMessageType"


@pytest.mark.parametrize(
    ("msg_type", "content", "ename"),
    [
        pytest.param("complete_request", {"code": "abc", "cursor_pos": "x"}, "ValueError", id="c"),
        pytest.param("inspect_request", {"code": 12, "cursor_pos": 0}, "TypeError", id="inspect"),
        pytest.param("is_complete_request", {"code": None}, "TypeError", id="is-complete"),
        pytest.param("execute_request", {"code": ["print(1)"]}, "TypeError", id="execute"),
    ],
)
def test_handler_that_raises_gives_an_error_reply(
    logged: LoggedKernel, msg_type: str, content: dict[str, Any], ename: str
) -> None:
    msg_header = header(msg_type)
    frames = logged.raw.frames(msg_header, content)
    # These handlers run in a worker thread or the shell's queue: the reply may come later.
    (reply,), log = logged.around(_send(logged, frames), late_reply_to=msg_header["msg_id"])
    assert reply["msg_type"] == msg_type.replace("_request", "_reply")
    assert reply["parent_header"]["msg_id"] == msg_header["msg_id"]
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == ename
    assert f"handler for {msg_type} failed" in log


def test_huge_execute_request_is_run_and_answered(logged: LoggedKernel) -> None:
    size = 50 * 1024 * 1024
    msg_header = header("execute_request")
    code = f"huge = '{'x' * size}'\nlen(huge)"
    content = {"code": code, "silent": False, "store_history": False, "allow_stdin": False}
    frames = logged.raw.frames(msg_header, content)
    (reply,), _ = logged.around(_send(logged, frames), late_reply_to=msg_header["msg_id"])
    assert reply["parent_header"]["msg_id"] == msg_header["msg_id"]
    assert reply["content"]["status"] == "ok"
    kernel = logged.harness
    result, _ = kernel.execute("print(len(huge)); del huge")
    assert result["content"]["status"] == "ok"


def test_wrong_content_types_in_a_known_request_are_tolerated(logged: LoggedKernel) -> None:
    """Fields a handler does not need may have any type: the request is still answered."""
    msg_header = header("kernel_info_request")
    frames = logged.raw.frames(msg_header, {"unexpected": [1, {"a": None}]})
    (reply,), _ = logged.around(_send(logged, frames))
    assert reply["content"]["status"] == "ok"


def test_input_reply_nobody_waits_for_is_ignored(logged: LoggedKernel) -> None:
    """Stray and broken input_replies on stdin are dropped; the kernel answers on."""

    def send_stray() -> None:
        stray = logged.raw.frames(header("input_reply"), {"value": "stray"})
        logged.raw.send_frames("stdin", stray)
        broken = logged.raw.frames(header("input_reply"), raw_parts={"content": b"{"})
        logged.raw.send_frames("stdin", broken)

    bad, _ = logged.around(send_stray)
    assert bad == []
    reply, _ = logged.harness.execute("print('still here')")
    assert reply["content"]["status"] == "ok"
