"""What libraries use of ipykernel's kernel object works on ours, through the real wire.

Each test runs the library's own calls in a cell of a real kernel (both backends).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.kernel_fixtures import outputs, stdout_of

if TYPE_CHECKING:
    from tests.kernel_fixtures import KernelHarness


def test_kernel_attributes(kernel: KernelHarness) -> None:
    """shell, comm_manager, execution_count and get_parent(channel) are what ipykernel's are."""
    code = (
        "k = get_ipython().kernel\n"
        "print(k.shell is get_ipython(), k.comm_manager is not None,\n"
        "      k.execution_count == get_ipython().execution_count,\n"
        "      k.get_parent('shell')['header']['msg_type'], k.session.session == k.session.msg_header('x')['session'])"
    )
    reply, messages = kernel.execute(code)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert stdout_of(messages) == "True True True execute_request True\n"


def test_session_send_on_iopub_from_a_thread(kernel: KernelHarness) -> None:
    """session.send(kernel.iopub_socket, ...) from another thread reaches iopub, parented."""
    code = (
        "import threading\n"
        "k = get_ipython().kernel\n"
        "parent = k.get_parent('shell')\n"
        "def send():\n"
        "    k.session.send(k.iopub_socket, 'display_data',\n"
        "                   {'data': {'text/plain': 'from a thread'}, 'metadata': {}},\n"
        "                   parent=parent, ident=b'display_data')\n"
        "thread = threading.Thread(target=send)\n"
        "thread.start(); thread.join()"
    )
    reply, messages = kernel.execute(code)
    assert reply["content"]["status"] == "ok", reply["content"]
    displays = [m for m in messages if m["msg_type"] == "display_data"]
    assert [m["content"]["data"] for m in displays] == [{"text/plain": "from a thread"}]
    assert displays[0]["parent_header"]["msg_id"] == reply["parent_header"]["msg_id"]


def test_send_response_and_a_wrong_stream(kernel: KernelHarness) -> None:
    """send_response publishes as ipywidgets' Output does; a non-socket stream says what to pass."""
    code = (
        "k = get_ipython().kernel\n"
        "k.send_response(k.iopub_socket, 'error', {'ename': 'E', 'evalue': 'v', 'traceback': ['t']})\n"
        "try:\n"
        "    k.session.send(object(), 'stream', {})\n"
        "except TypeError as error:\n"
        "    print(error)"
    )
    reply, messages = kernel.execute(code)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert outputs(messages, "error") == [{"ename": "E", "evalue": "v", "traceback": ["t"]}]
    assert "send to one of the kernel's sockets (kernel.iopub_socket)" in stdout_of(messages)


def test_jupyter_ui_poll_receives_widget_messages_in_a_blocking_cell(
    kernel: KernelHarness,
) -> None:
    """jupyter-ui-poll's run_ui_poll_loop gets comm messages while its cell blocks the shell."""
    setup = (
        "from comm import create_comm\n"
        "received = []\n"
        "button = create_comm(target_name='ui-poll-test')\n"
        "button.on_msg(lambda msg: received.append(msg['content']['data']['value']))\n"
        "print(button.comm_id)"
    )
    reply, messages = kernel.execute(setup)
    assert reply["content"]["status"] == "ok", reply["content"]
    comm_id = stdout_of(messages).strip()
    blocking = (
        "from jupyter_ui_poll import run_ui_poll_loop\n"
        "value = run_ui_poll_loop(lambda: received[0] if received else None, sleep=0.005)\n"
        "print('got', value)"
    )
    msg_id = kernel.client.execute(blocking)
    kernel.iopub_for_started(msg_id)
    kernel.send("shell", "comm_msg", {"comm_id": comm_id, "data": {"value": 42}})
    reply = kernel.reply_for(msg_id)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert "got 42" in stdout_of(kernel.iopub_for(msg_id))
    after, messages = kernel.execute("print(received)")
    assert after["content"]["status"] == "ok"
    assert stdout_of(messages) == "[42]\n"  # handled once: by the poll, not again by the queue
