"""Comms over the wire: opening, messaging and closing from both sides, info and bad input."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from tests.kernel_fixtures import TIMEOUT, outputs, stdout_of

if TYPE_CHECKING:
    from tests.kernel_fixtures import KernelHarness

ECHO_TARGET = """
import comm
opened = []
closed = []
def echo_target(c, msg):
    opened.append(msg["content"]["data"])
    c.on_msg(lambda m: c.send(m["content"]["data"], buffers=m["buffers"]))
    c.on_close(lambda m: closed.append(m["content"]["data"]))
"""


def send(
    kernel: KernelHarness,
    msg_type: str,
    content: dict[str, Any],
    buffers: list[bytes] | None = None,
    channel: str = "shell",
) -> str:
    """Send a message, with binary buffers, as a frontend would; return its msg_id."""
    msg = kernel.client.session.msg(msg_type, content)
    msg["buffers"] = buffers or []
    getattr(kernel.client, f"{channel}_channel").send(msg)
    return msg["header"]["msg_id"]


def wait_for_iopub(kernel: KernelHarness, msg_id: str, msg_type: str) -> dict[str, Any]:
    """Wait for the first iopub message of ``msg_type`` whose parent is ``msg_id``."""
    while True:
        msg = kernel.client.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == msg_type:
            return msg


def ok(kernel: KernelHarness, code: str) -> list[dict[str, Any]]:
    """Run ``code``, check it succeeded and return its iopub messages."""
    reply, messages = kernel.execute(code)
    assert reply["content"]["status"] == "ok", reply["content"]
    return messages


def evaluate(kernel: KernelHarness, expression: str) -> str:
    """The text/plain repr of ``expression`` evaluated in the kernel."""
    reply, _ = kernel.execute("", user_expressions={"value": expression})
    value = reply["content"]["user_expressions"]["value"]
    assert value["status"] == "ok", value
    return value["data"]["text/plain"]


def open_echo_comm(kernel: KernelHarness, target: str) -> str:
    """Register an echo target named ``target`` in the kernel and open a comm to it."""
    ok(
        kernel,
        ECHO_TARGET + f"get_ipython().kernel.comm_manager.register_target({target!r}, echo_target)",
    )
    comm_id = uuid.uuid4().hex
    msg_id = send(
        kernel, "comm_open", {"comm_id": comm_id, "target_name": target, "data": {"x": 1}}
    )
    assert outputs(kernel.iopub_for(msg_id), "comm_close") == []
    return comm_id


@pytest.mark.callable_interface
def test_kernel_opens_sends_and_closes_a_comm_with_buffers(kernel: KernelHarness) -> None:
    messages = ok(
        kernel,
        "import comm\n"
        "c = comm.create_comm(target_name='my-target', data={'a': 1}, buffers=[b'open'])\n"
        "c.send({'b': 2}, buffers=[b'one', b'two'])\n"
        "c.close({'c': 3})\n",
    )
    comm_messages = [m for m in messages if m["msg_type"].startswith("comm_")]
    assert [m["msg_type"] for m in comm_messages] == ["comm_open", "comm_msg", "comm_close"]
    opened, sent, closed = comm_messages
    comm_id = opened["content"]["comm_id"]
    assert opened["content"]["target_name"] == "my-target"
    assert opened["content"]["data"] == {"a": 1}
    assert [bytes(b) for b in opened["buffers"]] == [b"open"]
    assert sent["content"] == {"comm_id": comm_id, "data": {"b": 2}}
    assert [bytes(b) for b in sent["buffers"]] == [b"one", b"two"]
    assert closed["content"] == {"comm_id": comm_id, "data": {"c": 3}}


@pytest.mark.callable_interface
def test_frontend_opens_a_comm_to_a_target_registered_in_a_cell(kernel: KernelHarness) -> None:
    comm_id = open_echo_comm(kernel, "echo-open")
    assert evaluate(kernel, "opened[-1]") == "{'x': 1}"
    msg_id = send(kernel, "comm_msg", {"comm_id": comm_id, "data": {"n": 5}}, [b"\x00\x01"])
    (echo,) = [m for m in kernel.iopub_for(msg_id) if m["msg_type"] == "comm_msg"]
    assert echo["content"] == {"comm_id": comm_id, "data": {"n": 5}}
    assert [bytes(b) for b in echo["buffers"]] == [b"\x00\x01"]
    assert echo["parent_header"]["msg_id"] == msg_id


@pytest.mark.callable_interface
def test_frontend_closes_a_comm(kernel: KernelHarness) -> None:
    comm_id = open_echo_comm(kernel, "echo-close")
    msg_id = send(kernel, "comm_close", {"comm_id": comm_id, "data": {"bye": True}})
    messages = kernel.iopub_for(msg_id)
    assert outputs(messages, "comm_close") == []  # the kernel does not close it back
    assert evaluate(kernel, "closed[-1]") == "{'bye': True}"
    assert comm_id not in comm_info(kernel)


@pytest.mark.callable_interface
def test_comm_manager_from_comm_package_is_the_kernels(kernel: KernelHarness) -> None:
    ok(kernel, "import comm")
    assert evaluate(kernel, "comm.get_comm_manager() is get_ipython().kernel.comm_manager") == (
        "True"
    )
    ok(kernel, ECHO_TARGET + "comm.get_comm_manager().register_target('via-comm', echo_target)")
    comm_id = uuid.uuid4().hex
    msg_id = send(kernel, "comm_open", {"comm_id": comm_id, "target_name": "via-comm", "data": {}})
    assert outputs(kernel.iopub_for(msg_id), "comm_close") == []
    assert comm_info(kernel)[comm_id] == {"target_name": "via-comm"}


def comm_info(kernel: KernelHarness, **content: Any) -> dict[str, Any]:
    """The ``comms`` of a comm_info_reply."""
    msg_id = send(kernel, "comm_info_request", content)
    reply = kernel.reply_for(msg_id)
    assert reply["content"]["status"] == "ok"
    return reply["content"]["comms"]


@pytest.mark.callable_interface
def test_comm_info_filters_by_target_name(kernel: KernelHarness) -> None:
    first = open_echo_comm(kernel, "info-a")
    second = open_echo_comm(kernel, "info-b")
    everything = comm_info(kernel)
    assert everything[first] == {"target_name": "info-a"}
    assert everything[second] == {"target_name": "info-b"}
    assert comm_info(kernel, target_name="info-a") == {first: {"target_name": "info-a"}}
    assert comm_info(kernel, target_name="no-such-target") == {}


@pytest.mark.callable_interface
def test_open_to_unknown_target_is_answered_with_comm_close(kernel: KernelHarness) -> None:
    comm_id = uuid.uuid4().hex
    msg_id = send(kernel, "comm_open", {"comm_id": comm_id, "target_name": "nobody", "data": {}})
    assert outputs(kernel.iopub_for(msg_id), "comm_close") == [{"comm_id": comm_id, "data": {}}]
    assert comm_id not in comm_info(kernel)


@pytest.mark.callable_interface
def test_target_that_raises_gets_its_comm_closed(kernel: KernelHarness) -> None:
    code = "def bad(c, msg):\n    raise RuntimeError('no')\n"
    ok(kernel, code + "get_ipython().kernel.comm_manager.register_target('bad', bad)")
    comm_id = uuid.uuid4().hex
    msg_id = send(kernel, "comm_open", {"comm_id": comm_id, "target_name": "bad", "data": {}})
    assert outputs(kernel.iopub_for(msg_id), "comm_close") == [{"comm_id": comm_id, "data": {}}]
    assert comm_id not in comm_info(kernel)


@pytest.mark.callable_interface
def test_messages_for_unknown_comms_leave_the_kernel_unharmed(kernel: KernelHarness) -> None:
    for msg_type in ("comm_msg", "comm_close"):
        msg_id = send(kernel, msg_type, {"comm_id": "no-such-comm", "data": {}})
        messages = kernel.iopub_for(msg_id)
        assert [m["msg_type"] for m in messages] == ["status", "status"]
    msg_id = send(kernel, "comm_msg", {"data": {}})  # no comm_id at all
    kernel.iopub_for(msg_id)
    assert stdout_of(ok(kernel, "print('alive')")) == "alive\n"


@pytest.mark.callable_interface
def test_comm_msg_on_the_control_channel(kernel: KernelHarness) -> None:
    comm_id = open_echo_comm(kernel, "echo-control")
    msg_id = send(
        kernel, "comm_msg", {"comm_id": comm_id, "data": {"via": "control"}}, None, "control"
    )
    echoes = outputs(kernel.iopub_for(msg_id), "comm_msg")
    assert echoes == [{"comm_id": comm_id, "data": {"via": "control"}}]


@pytest.mark.callable_interface
def test_many_echoed_messages_arrive_in_order(kernel: KernelHarness) -> None:
    comm_id = open_echo_comm(kernel, "echo-order")
    # 500, not 2,000: in the full suite at -n 2 this kernel and client pair sometimes slows
    # from ~1,500 to ~30 echoes a second (3 of 8 full runs, always at the same point of the
    # run; no thread in the test process was hot, cause not found). Order is what is tested
    # here; the throughput drop is recorded as an open problem, not hidden by a longer wait.
    count = 500
    for i in range(count):
        send(kernel, "comm_msg", {"comm_id": comm_id, "data": {"i": i}})
    received: list[int] = []
    started = time.monotonic()
    # Within the test's own timeout, so that a slow kernel fails with how far it got (it once
    # took over 60 s on a loaded CI machine, against about 1.3 s here).
    deadline = started + 45
    while len(received) < count:
        msg = kernel.client.get_iopub_msg(timeout=TIMEOUT)
        if msg["msg_type"] == "comm_msg" and msg["content"]["comm_id"] == comm_id:
            received.append(msg["content"]["data"]["i"])
        if time.monotonic() > deadline:
            pytest.fail(
                f"{len(received)} of {count} echoes in {time.monotonic() - started:.1f} s; "
                f"the last message read: {msg['msg_type']} {msg['header']['msg_id']}"
            )
    assert received == list(range(count))


def test_one_comm_shared_by_threads_loses_nothing(kernel: KernelHarness) -> None:
    code = (
        "import comm, threading\n"
        "c = comm.create_comm(target_name='threads')\n"
        "def worker(t):\n"
        "    for i in range(200):\n"
        "        c.send({'t': t, 'i': i})\n"
        "threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]\n"
        "for th in threads: th.start()\n"
        "for th in threads: th.join()\n"
    )
    messages = ok(kernel, code)
    sent = [c["data"] for c in outputs(messages, "comm_msg")]
    assert len(sent) == 800
    for thread in range(4):
        assert [d["i"] for d in sent if d["t"] == thread] == list(range(200))


@pytest.mark.callable_interface
def test_cell_awaiting_a_comm_message_completes(kernel: KernelHarness) -> None:
    for prefix in ("", "# thread\n"):
        target = f"await-{uuid.uuid4().hex}"
        ok(
            kernel,
            "from async_caller import Pending\n"
            "arrived = Pending()\n"
            "def on_open(c, msg):\n"
            "    c.on_msg(lambda m: arrived.set_result(m['content']['data']['v']))\n"
            f"get_ipython().kernel.comm_manager.register_target({target!r}, on_open)\n",
        )
        comm_id = uuid.uuid4().hex
        kernel.iopub_for(send(kernel, "comm_open", {"comm_id": comm_id, "target_name": target}))
        cell = kernel.client.execute(prefix + "print('got', await arrived)")
        wait_for_iopub(kernel, cell, "execute_input")
        send(kernel, "comm_msg", {"comm_id": comm_id, "data": {"v": 42}})
        assert kernel.reply_for(cell)["content"]["status"] == "ok"
        assert stdout_of(kernel.iopub_for(cell)) == "got 42\n"
