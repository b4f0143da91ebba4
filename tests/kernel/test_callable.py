"""The callable interface: host messages in, kernel messages out, bad input refused clearly."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from async_kernel import InvalidMessageError
from async_kernel.messaging._callable_transport import frames_to_message, message_to_frames
from async_kernel.messaging._codec import MessageCodec
from async_kernel.messaging._message import Channel

HEADER = {"msg_id": "m1", "msg_type": "kernel_info_request", "session": "s", "version": "5.5"}


def test_a_host_message_becomes_the_frames_the_codec_reads() -> None:
    """Dict or JSON, the message decodes to the same request, buffers included."""
    message = {"channel": "shell", "header": HEADER, "content": {"a": 1}, "buffers": [b"\x00\x01"]}
    for form in (message, json.dumps({**message, "buffers": []})):
        channel, frames = message_to_frames(form)
        decoded = MessageCodec(b"").deserialize(channel, frames)
        assert channel is Channel.shell
        assert decoded.header == HEADER
        assert decoded.content == {"a": 1}
        assert decoded.parent_header == {}
    assert MessageCodec(b"").deserialize(*message_to_frames(message)).buffers == [b"\x00\x01"]


def test_kernel_frames_become_a_host_message() -> None:
    """The frames the kernel sends turn into a JupyterLite-style dict with memoryview buffers."""
    frames = MessageCodec(b"").serialize(
        {**HEADER, "msg_type": "comm_msg"},
        {"msg_id": "p"},
        {"x": 1},
        buffers=[b"raw"],
        idents=[b"t"],
    )
    message = frames_to_message(Channel.iopub, frames)
    assert message["channel"] == "iopub"
    assert message["msg_type"] == "comm_msg"
    assert message["msg_id"] == "m1"
    assert message["parent_header"] == {"msg_id": "p"}
    assert message["content"] == {"x": 1}
    assert [bytes(buffer) for buffer in message["buffers"]] == [b"raw"]


@pytest.mark.parametrize(
    ("message", "complaint"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a dict"),
        (42, "must be a dict"),
        ({"header": HEADER}, "channel must be"),
        ({"channel": "iopub", "header": HEADER}, "channel must be"),
        ({"channel": "shell", "header": HEADER, "content": {1j: 2}}, "cannot be encoded"),
        ({"channel": "shell", "header": HEADER, "buffers": [3]}, "bytes-like"),
    ],
)
def test_what_is_not_a_message_is_refused_with_the_reason(message: object, complaint: str) -> None:
    """Bad host input raises InvalidMessageError saying what is wrong."""
    with pytest.raises(InvalidMessageError, match=complaint):
        message_to_frames(message)  # pyright: ignore[reportArgumentType]


HOST = """
import json, sys, threading, anyio
from async_caller import set_threads_available
set_threads_available(False)
threading.Thread.start = lambda self: (_ for _ in ()).throw(RuntimeError("no threads"))
from async_kernel import CallableKernel, InvalidMessageError

def request(msg_type, content, channel="shell", header=None):
    header = header or {"msg_id": f"id-{msg_type}-{len(sent)}", "msg_type": msg_type}
    return {"channel": channel, "header": header, "content": content}

sent = []
results = {}

def on_message(message):
    sent.append(message)
    if message["msg_type"] == "execute_input":
        raise RuntimeError("a bug in the host")

async def main():
    kernel = CallableKernel(on_message, backend=sys.argv[1])
    try:
        kernel.receive(request("kernel_info_request", {}))
    except RuntimeError as exc:
        results["before_serving"] = str(exc)
    async with anyio.create_task_group() as tasks:
        await tasks.start(kernel.serve)
        for bad in ("nonsense", request("kernel_info_request", {}, header={"msg_type": 3})):
            try:
                kernel.receive(bad)
            except InvalidMessageError as exc:
                results.setdefault("refused", []).append(str(exc))
        kernel.receive({**request("execute_request", {}), "content": "not a dict"})
        kernel.receive(request("execute_request", {"code": "input('x')", "allow_stdin": True}))
        with anyio.fail_after(30):
            while sum(m["msg_type"] == "execute_reply" for m in sent) < 2:
                await anyio.sleep(0.01)
        kernel.receive(request("kernel_info_request", {}))
        kernel.receive(request("shutdown_request", {}, channel="control"))
    results["replies"] = [(m["msg_type"], m["content"]) for m in sent if m["channel"] != "iopub"]
    results["inputs"] = sum(m["msg_type"] == "execute_input" for m in sent)
    results["threads"] = threading.active_count()

anyio.run(main, backend=sys.argv[1])
print(json.dumps(results), file=sys.__stdout__)
"""


def test_a_threadless_kernel_answers_bad_requests_and_serves_on(anyio_backend: str) -> None:
    """Errors come back as replies or exceptions, a failing host callback is only logged; the
    kernel never starts a thread and serves on."""
    process = subprocess.run(  # the kernel takes over sys.stdout and the IPython singleton
        [sys.executable, "-c", textwrap.dedent(HOST), anyio_backend],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    results = json.loads(process.stdout.splitlines()[-1])
    assert "not serving yet" in results["before_serving"]
    assert "not valid JSON" in results["refused"][0]
    assert "msg_type" in results["refused"][1]
    replies = results["replies"]
    bad_content, no_stdin, info, shutdown = replies
    assert bad_content[0] == "execute_reply"
    assert bad_content[1]["status"] == "error"
    assert "content" in bad_content[1]["evalue"]
    assert no_stdin[1]["ename"] == "StdinNotImplementedError"
    assert info == ["kernel_info_reply", info[1]]
    assert info[1]["status"] == "ok"
    assert shutdown[0] == "shutdown_reply"
    assert info[1]["debugger"] is False  # debugpy needs threads
    assert results["inputs"] == 1  # the host's callback failed on it: the cell ran on
    assert results["threads"] == 1
