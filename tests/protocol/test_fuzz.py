"""Fuzzing the wire: malformed, random and mutated messages interleaved with valid requests.

Hypothesis draws batches of messages for shell, control and stdin: bad frame counts, bad or
missing signatures, replays, truncated JSON, wrong types in header or content, huge sizes,
unknown msg_types and bogus subshell ids, mixed with valid requests whose correct reply is
known. Each batch is sent in one go; then every valid request must have exactly one reply,
and the right one. The kernel must stay up and its memory bounded throughout.

The default run is short. ``ASYNC_KERNEL_FUZZ_MESSAGES=10000`` (or more) runs the long profile,
which keeps drawing batches until that many messages went to each backend's kernel.

Never generated: shutdown_request and interrupt_request on control (they would end the
kernel or the valid cells, on purpose) and cells that could run for long (the code alphabet
has no ``*``, so no ``9**9**9``). Fuzzed execute requests set ``stop_on_error`` false: a
failing one would otherwise abort the valid executes queued behind it, as the spec says.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.kernel_fixtures import TIMEOUT, running_kernel
from tests.protocol.conftest import BACKENDS
from tests.protocol.raw_wire import DELIMITER, RawClient, header
from tests.protocol.test_lifecycle import kernel_process

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

LONG_RUN_MESSAGES = int(os.environ.get("ASYNC_KERNEL_FUZZ_MESSAGES", "0"))
SHORT_EXAMPLES = 25
MAX_RSS_GROWTH = 300 * 1024 * 1024
"""Bytes the kernel may grow by over the run: far above its needs, far below a leak's."""


class Fuzzed:
    """The kernel under test, a raw client and what was sent so far."""

    def __init__(self, raw: RawClient, pid: int) -> None:
        self.raw = raw
        self.pid = pid
        self.sent = 0
        self.valid = 0
        self.history: list[tuple[str, list[bytes]]] = []
        """Frames of valid requests sent earlier, for replays."""

    def rss(self) -> int:
        """The kernel's resident memory in bytes."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS in /proc status")


@pytest.fixture(scope="module", params=BACKENDS)
def fuzzed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fuzzed]:
    """One kernel per backend, logging to a file (the fuzz makes it log a lot)."""
    folder = tmp_path_factory.mktemp("fuzz")
    with running_kernel(folder, request.param, log_path=folder / "kernel.log") as harness:
        raw = RawClient.for_kernel(harness)
        fuzz = Fuzzed(raw, kernel_process(harness).pid)
        try:
            yield fuzz
        finally:
            raw.close()


# --- valid requests with a known reply ----------------------------------------------------


def _expect_ok(reply_type: str) -> Callable[[dict[str, Any]], None]:
    def check(reply: dict[str, Any]) -> None:
        assert reply["msg_type"] == reply_type
        assert reply["content"]["status"] == "ok", reply["content"]

    return check


def _expect_sum(total: int) -> Callable[[dict[str, Any]], None]:
    def check(reply: dict[str, Any]) -> None:
        assert reply["msg_type"] == "execute_reply"
        content = reply["content"]
        assert content["status"] == "ok", content
        result = content["user_expressions"]["total"]
        assert result["data"]["text/plain"] == str(total)

    return check


def _expect_incomplete(reply: dict[str, Any]) -> None:
    assert reply["msg_type"] == "is_complete_reply"
    assert reply["content"]["status"] == "incomplete"


def _expect_import(reply: dict[str, Any]) -> None:
    assert reply["msg_type"] == "complete_reply"
    assert "import" in reply["content"]["matches"]


ValidRequest = tuple[str, str, dict[str, Any], "Callable[[dict[str, Any]], None]"]

both_channels = st.sampled_from(["shell", "control"])
valid_requests: st.SearchStrategy[ValidRequest] = st.one_of(
    both_channels.map(lambda c: (c, "kernel_info_request", {}, _expect_ok("kernel_info_reply"))),
    st.tuples(st.integers(-(10**6), 10**6), st.integers(-(10**6), 10**6)).map(
        lambda ab: (
            "shell",
            "execute_request",
            {
                "code": "",
                "silent": True,
                "store_history": False,
                "user_expressions": {"total": f"{ab[0]} + {ab[1]}"},
                "allow_stdin": False,
            },
            _expect_sum(ab[0] + ab[1]),
        )
    ),
    both_channels.map(lambda c: (c, "is_complete_request", {"code": "x = ("}, _expect_incomplete)),
    both_channels.map(
        lambda c: (c, "complete_request", {"code": "impo", "cursor_pos": 4}, _expect_import)
    ),
    both_channels.map(lambda c: (c, "comm_info_request", {}, _expect_ok("comm_info_reply"))),
)

# --- malformed and random messages -------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
safe_code = st.text(alphabet="0123456789+-/() =x\n", max_size=40)
known_types = st.sampled_from(
    [
        "kernel_info_request",
        "execute_request",
        "complete_request",
        "inspect_request",
        "is_complete_request",
        "history_request",
        "comm_info_request",
        "comm_open",
        "comm_msg",
        "comm_close",
        "input_reply",
        "debug_request",
        "create_subshell_request",
        "list_subshell_request",
    ]
)
any_channel = st.sampled_from(["shell", "control", "stdin"])


@st.composite
def random_content(draw: st.DrawFn, msg_type: str) -> dict[str, Any]:
    """Content for ``msg_type`` with each field of a random type."""
    fields = [
        "code",
        "cursor_pos",
        "detail_level",
        "silent",
        "store_history",
        "user_expressions",
        "allow_stdin",
        "hist_access_type",
        "n",
        "pattern",
        "comm_id",
        "target_name",
        "data",
        "value",
        "restart",
        "output",
        "raw",
    ]
    content: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(fields), max_size=6, unique=True)):
        content[name] = draw(safe_code if name == "code" else json_values)
    if msg_type == "execute_request":
        content["stop_on_error"] = False
        if isinstance(content.get("user_expressions"), dict):
            content["user_expressions"] = {}  # random strings here would be evaluated
    return content


@st.composite
def malformed(draw: st.DrawFn, fuzz: Fuzzed) -> tuple[str, list[bytes]]:
    """One bad, random or mutated message and the channel to send it on."""
    raw = fuzz.raw
    channel = draw(any_channel)
    msg_type = draw(known_types | st.text(min_size=1, max_size=12).map(lambda t: t + "_request"))
    good = raw.frames(header(msg_type), draw(random_content(msg_type)))
    kind = draw(
        st.sampled_from(
            [
                "frames",
                "signature",
                "unsigned",
                "truncate",
                "header-types",
                "content-types",
                "huge",
                "subshell",
                "replay",
                "random-content",
            ]
        )
    )
    if kind == "frames":
        frames = draw(st.lists(st.binary(max_size=30), max_size=8))
        if draw(st.booleans()):
            frames.insert(draw(st.integers(0, len(frames))), DELIMITER)
        return channel, frames or [b""]
    if kind == "signature":
        return channel, [DELIMITER, draw(st.binary(min_size=1, max_size=70)), *good[2:]]
    if kind == "unsigned":
        return channel, [DELIMITER, b"", *good[2:]]
    if kind == "truncate":
        part = draw(st.sampled_from(["header", "parent_header", "metadata", "content"]))
        index = {"header": 2, "parent_header": 3, "metadata": 4, "content": 5}[part]
        cut = draw(st.integers(0, max(0, len(good[index]) - 1)))
        return channel, raw.frames(header(msg_type), raw_parts={part: good[index][:cut]})
    if kind == "header-types":
        bad_header = header(msg_type)
        bad_header[
            draw(
                st.sampled_from(["msg_type", "msg_id", "session", "date", "version", "subshell_id"])
            )
        ] = draw(json_values)
        return channel, raw.frames(bad_header, {})
    if kind == "content-types":
        raw_content = json.dumps(draw(json_values)).encode()
        return channel, raw.frames(header(msg_type), raw_parts={"content": raw_content})
    if kind == "huge":
        size = draw(st.integers(1, 4)) * 1024 * 1024
        return channel, raw.frames(header("kernel_info_request"), {"padding": "x" * size})
    if kind == "subshell":
        subshell = draw(st.text(min_size=1, max_size=12))
        return channel, raw.frames(header(msg_type, subshell_id=subshell), {})
    if kind == "replay" and fuzz.history:
        return draw(st.sampled_from(fuzz.history))
    return channel, good


@st.composite
def batches(draw: st.DrawFn, fuzz: Fuzzed) -> list[tuple[str, list[bytes], str | None, Any]]:
    """A shuffled mix of valid requests and malformed messages."""
    batch: list[tuple[str, list[bytes], str | None, Any]] = []
    for _ in range(draw(st.integers(1, 8))):
        channel, msg_type, content, check = draw(valid_requests)
        msg_header = header(msg_type)
        batch.append((channel, fuzz.raw.frames(msg_header, content), msg_header["msg_id"], check))
    for _ in range(draw(st.integers(1, 20))):
        channel, frames = draw(malformed(fuzz))
        batch.append((channel, frames, None, None))
    return draw(st.permutations(batch))


def run_batch(fuzz: Fuzzed, batch: list[tuple[str, list[bytes], str | None, Any]]) -> None:
    """Send a batch; check that each valid request gets exactly one, correct, reply."""
    raw = fuzz.raw
    expected: dict[str, tuple[str, Any]] = {}
    for channel, frames, msg_id, check in batch:
        raw.send_frames(channel, frames)
        fuzz.sent += 1
        if msg_id is not None:
            expected[msg_id] = (channel, check)
            fuzz.history.append((channel, frames))
    fuzz.valid += len(expected)
    del fuzz.history[:-50]
    sentinels = {
        raw.request(channel, "kernel_info_request"): channel for channel in ("shell", "control")
    }
    waiting = set(expected) | set(sentinels)
    answered: dict[str, int] = {}
    poller = zmq.Poller()
    for channel in ("shell", "control"):
        poller.register(raw.sockets[channel], zmq.POLLIN)
    while waiting:
        events = dict(poller.poll(TIMEOUT * 1000))
        assert events, f"no reply within {TIMEOUT} s; still waiting for {len(waiting)}"
        for channel in ("shell", "control"):
            if raw.sockets[channel] in events:
                reply = raw.receive(channel)
                parent = reply["parent_header"].get("msg_id")
                answered[parent] = answered.get(parent, 0) + 1
                if parent in expected:
                    expected_channel, check = expected[parent]
                    assert channel == expected_channel
                    check(reply)
                waiting.discard(parent)
    duplicates = {msg_id for msg_id in expected if answered.get(msg_id, 0) != 1}
    assert not duplicates, f"valid requests answered more than once: {duplicates}"


@pytest.mark.timeout(4 * 3600 if LONG_RUN_MESSAGES else 120)
def test_fuzzed_wire_input_never_costs_a_valid_reply(fuzzed: Fuzzed) -> None:
    start_rss = fuzzed.rss()
    target = LONG_RUN_MESSAGES
    examples = max(SHORT_EXAMPLES, target // 10) if target else SHORT_EXAMPLES

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.data())
    def fuzz_once(data: st.DataObject) -> None:
        run_batch(fuzzed, data.draw(batches(fuzzed)))

    fuzz_once()
    while fuzzed.sent < target:
        fuzz_once()
    assert fuzzed.valid > 0
    growth = fuzzed.rss() - start_rss
    assert growth < MAX_RSS_GROWTH, f"kernel grew by {growth / 2**20:.0f} MiB"
    print(f"fuzz: {fuzzed.sent} messages, {fuzzed.valid} valid, RSS +{growth / 2**20:.1f} MiB")
