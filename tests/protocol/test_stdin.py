"""input() and getpass through the stdin channel, refused without allow_stdin, interruptible."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient

from tests.kernel_fixtures import HEARTBEAT_CHANNEL, TIMEOUT, outputs, stdout_of

if TYPE_CHECKING:
    from tests.kernel_fixtures import KernelHarness

# The cell modes a cell can wait for input in: the shell's queue (main thread), a task in
# the main thread's loop, and a worker thread.
FIRST_LINES = {"queue": "", "task": "# task\n", "thread": "# thread\n"}


def answer(kernel: KernelHarness, msg_id: str, value: str) -> dict[str, Any]:
    """Wait for the cell's input_request, answer it with ``value``; return the request."""
    request = kernel.client.get_stdin_msg(timeout=TIMEOUT)
    assert request["msg_type"] == "input_request"
    assert request["parent_header"]["msg_id"] == msg_id
    reply = kernel.client.session.msg("input_reply", {"value": value}, parent=request["header"])
    kernel.client.stdin_channel.send(reply)
    return request


@pytest.mark.callable_interface
@pytest.mark.parametrize("mode", list(FIRST_LINES))
def test_input_asks_the_frontend_and_returns_its_answer(kernel: KernelHarness, mode: str) -> None:
    code = FIRST_LINES[mode] + "name = input('Who? ')\nprint('hello', name)"
    msg_id = kernel.client.execute(code, allow_stdin=True)
    request = answer(kernel, msg_id, "Ada")
    assert request["content"] == {"prompt": "Who? ", "password": False}
    assert kernel.reply_for(msg_id)["content"]["status"] == "ok"
    assert stdout_of(kernel.iopub_for(msg_id)) == "hello Ada\n"


@pytest.mark.callable_interface
def test_getpass_asks_with_the_password_flag(kernel: KernelHarness) -> None:
    code = "import getpass\nsecret = getpass.getpass('Token: ')\nprint(len(secret))"
    msg_id = kernel.client.execute(code, allow_stdin=True)
    request = answer(kernel, msg_id, "s3cret")
    assert request["content"] == {"prompt": "Token: ", "password": True}
    assert kernel.reply_for(msg_id)["content"]["status"] == "ok"
    assert stdout_of(kernel.iopub_for(msg_id)) == "6\n"


@pytest.mark.callable_interface
def test_two_inputs_in_one_cell_are_answered_in_turn(kernel: KernelHarness) -> None:
    msg_id = kernel.client.execute("print(input('a') + input('b'))", allow_stdin=True)
    assert answer(kernel, msg_id, "1")["content"]["prompt"] == "a"
    assert answer(kernel, msg_id, "2")["content"]["prompt"] == "b"
    assert kernel.reply_for(msg_id)["content"]["status"] == "ok"
    assert stdout_of(kernel.iopub_for(msg_id)) == "12\n"


@pytest.mark.callable_interface
@pytest.mark.parametrize("code", ["input('x? ')", "import getpass; getpass.getpass()"])
def test_input_without_allow_stdin_is_a_clear_error_in_the_cell(
    kernel: KernelHarness, code: str
) -> None:
    reply, messages = kernel.execute(code, allow_stdin=False)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "StdinNotImplementedError"
    caller = "getpass" if "getpass" in code else "raw_input"
    assert reply["content"]["evalue"] == (  # ipykernel's words
        f"{caller} was called, but this frontend does not support input requests."
    )
    (error,) = outputs(messages, "error")
    assert error["ename"] == "StdinNotImplementedError"
    after, _ = kernel.execute("1 + 1")
    assert after["content"]["status"] == "ok"


@pytest.mark.parametrize("mode", list(FIRST_LINES))
def test_interrupt_ends_a_cell_waiting_in_input(fresh_kernel: KernelHarness, mode: str) -> None:
    kernel = fresh_kernel
    msg_id = kernel.client.execute(FIRST_LINES[mode] + "input('wait: ')", allow_stdin=True)
    assert kernel.client.get_stdin_msg(timeout=TIMEOUT)["parent_header"]["msg_id"] == msg_id
    interrupt = kernel.send("control", "interrupt_request", {})
    assert kernel.reply_for(interrupt, "control")["content"]["status"] == "ok"
    reply = kernel.reply_for(msg_id)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    after, messages = kernel.execute("print('next cell')")
    assert after["content"]["status"] == "ok"
    assert stdout_of(messages) == "next cell\n"


def test_input_request_waits_for_a_stdin_socket_that_connects_late(kernel: KernelHarness) -> None:
    """A client may run a cell before its stdin socket is connected; the request still arrives.

    The kernel's stdin socket would otherwise drop a message for a peer it does not know yet,
    and the cell would wait for an answer to a question nobody saw.
    """
    late = BlockingKernelClient()
    late.load_connection_info(kernel.manager.get_connection_info())
    late.start_channels(stdin=False, hb=HEARTBEAT_CHANNEL)
    try:
        msg_id = late.execute("print('got', input('late? '))", allow_stdin=True)
        started = kernel.iopub_for_started(msg_id)
        assert [m["msg_type"] for m in started][-1] == "execute_input"
        late.stdin_channel.start()  # same session, so the same socket identity as its shell
        request = late.get_stdin_msg(timeout=TIMEOUT)
        assert request["parent_header"]["msg_id"] == msg_id
        assert request["content"]["prompt"] == "late? "
        late.input("yes")
        reply = late.get_shell_msg(timeout=TIMEOUT)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["status"] == "ok"
    finally:
        late.stop_channels()
    assert stdout_of(kernel.iopub_for(msg_id)) == "got yes\n"
