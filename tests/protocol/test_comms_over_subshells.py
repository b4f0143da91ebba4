"""Comms sent through subshells, as JupyterLab 4.4+ does by default (``commsOverSubshells``).

JupyterLab creates a subshell per comm target and sends that target's comm messages with its
``subshell_id``. A comm's callbacks still run in the shell that owns the comm (see ``_comm``),
so widgets behave exactly as they do on the main shell.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest

from tests.kernel_fixtures import outputs, stdout_of
from tests.protocol.test_comms import ECHO_TARGET, evaluate, ok, wait_for_iopub
from tests.protocol.test_subshells import create_subshell, delete_subshell, run_in
from tests.protocol.test_widgets import WIDGET_MIME, widget_opens

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.kernel_fixtures import KernelHarness


@pytest.fixture
def comm_subshell(kernel: KernelHarness) -> Iterator[str]:
    """The subshell JupyterLab would create for a comm target."""
    subshell_id = create_subshell(kernel)
    yield subshell_id
    delete_subshell(kernel, subshell_id)


def send_via(
    kernel: KernelHarness,
    subshell_id: str,
    msg_type: str,
    content: dict[str, Any],
    metadata: dict[str, Any] | None = None,
) -> str:
    """Send a comm message through a subshell, as JupyterLab does; return its msg_id."""
    msg = kernel.client.session.msg(msg_type, content, metadata=metadata)
    msg["header"]["subshell_id"] = subshell_id
    kernel.client.shell_channel.send(msg)
    return msg["header"]["msg_id"]


def update_via(kernel: KernelHarness, subshell_id: str, comm_id: str, **state: Any) -> str:
    data = {"method": "update", "state": state, "buffer_paths": []}
    return send_via(kernel, subshell_id, "comm_msg", {"comm_id": comm_id, "data": data})


@pytest.mark.callable_interface
def test_widget_syncs_through_a_subshell(kernel: KernelHarness, comm_subshell: str) -> None:
    messages = ok(
        kernel,
        "import threading, ipywidgets as w\n"
        "slider = w.IntSlider(value=1)\n"
        "callback_threads = []\n"
        "slider.observe(lambda c: callback_threads.append(threading.current_thread().name), 'value')",
    )
    (opened,) = widget_opens(messages, "IntSliderModel")
    comm_id = opened["comm_id"]
    msg_id = update_via(kernel, comm_subshell, comm_id, value=7)
    iopub = kernel.iopub_for(msg_id)
    (echo,) = outputs(iopub, "comm_msg")
    assert echo["data"] == {"method": "echo_update", "state": {"value": 7}, "buffer_paths": []}
    for msg in iopub:
        assert msg["parent_header"]["subshell_id"] == comm_subshell
    assert evaluate(kernel, "slider.value") == "7"
    assert evaluate(kernel, "callback_threads") == "['MainThread']"


@pytest.mark.callable_interface
def test_main_cell_awaiting_a_widget_event_from_a_subshell_completes(
    kernel: KernelHarness, comm_subshell: str
) -> None:
    code = (
        "import ipywidgets as w\n"
        "from async_caller import Pending\n"
        "new_value = Pending()\n"
        "slider = w.IntSlider()\n"
        "slider.observe(lambda change: new_value.set_result(change['new']), 'value')\n"
        "display(slider)\n"
        "print('got', await new_value)\n"
    )
    cell = kernel.client.execute(code)
    shown = wait_for_iopub(kernel, cell, "display_data")
    model_id = shown["content"]["data"][WIDGET_MIME]["model_id"]
    kernel.iopub_for(update_via(kernel, comm_subshell, model_id, value=9))
    assert kernel.reply_for(cell)["content"]["status"] == "ok"
    assert stdout_of(kernel.iopub_for(cell)) == "got 9\n"


@pytest.mark.callable_interface
def test_frontend_opened_comm_through_a_subshell(kernel: KernelHarness, comm_subshell: str) -> None:
    target = f"echo-{uuid.uuid4().hex}"
    ok(
        kernel,
        ECHO_TARGET
        + "import threading\n"
        + "seen_in = []\n"
        + "def tracked(c, msg):\n"
        + "    echo_target(c, msg)\n"
        + "    echo = c._msg_callback\n"
        + "    def on_msg(m):\n"
        + "        seen_in.append(threading.current_thread().name)\n"
        + "        echo(m)\n"
        + "    c.on_msg(on_msg)\n"
        + f"get_ipython().kernel.comm_manager.register_target({target!r}, tracked)",
    )
    comm_id = uuid.uuid4().hex
    opened = send_via(
        kernel, comm_subshell, "comm_open", {"comm_id": comm_id, "target_name": target, "data": {}}
    )
    assert outputs(kernel.iopub_for(opened), "comm_close") == []
    for number in range(20):
        msg_id = send_via(
            kernel, comm_subshell, "comm_msg", {"comm_id": comm_id, "data": {"n": number}}
        )
        (echo,) = outputs(kernel.iopub_for(msg_id), "comm_msg")
        assert echo["data"] == {"n": number}
    assert evaluate(kernel, "set(seen_in)") == "{'MainThread'}"
    closed = send_via(kernel, comm_subshell, "comm_close", {"comm_id": comm_id, "data": {"bye": 1}})
    kernel.iopub_for(closed)
    assert evaluate(kernel, "closed[-1]") == "{'bye': 1}"


@pytest.mark.callable_interface
def test_widget_control_comm_through_a_subshell(kernel: KernelHarness, comm_subshell: str) -> None:
    ok(kernel, "import ipywidgets as w\nticked = w.Checkbox(value=True)")
    comm_id = uuid.uuid4().hex
    content = {"comm_id": comm_id, "target_name": "jupyter.widget.control", "data": {}}
    kernel.iopub_for(
        send_via(kernel, comm_subshell, "comm_open", content, metadata={"version": "1.0.0"})
    )
    request = {"comm_id": comm_id, "data": {"method": "request_states"}}
    replies = outputs(
        kernel.iopub_for(send_via(kernel, comm_subshell, "comm_msg", request)), "comm_msg"
    )
    (states,) = [c["data"] for c in replies]
    model_id = evaluate(kernel, "ticked.model_id").strip("'")
    assert states["states"][model_id]["state"]["value"] is True


def test_widget_made_in_a_subshell_runs_its_callbacks_there(
    kernel: KernelHarness, comm_subshell: str
) -> None:
    console = create_subshell(kernel)
    try:
        reply, messages = run_in(
            kernel,
            "import threading, ipywidgets as w\n"
            "box = w.Text()\n"
            "where = []\n"
            "box.observe(lambda c: where.append(threading.current_thread().name), 'value')",
            console,
        )
        assert reply["content"]["status"] == "ok"
        (opened,) = widget_opens(messages, "TextModel")
        kernel.iopub_for(update_via(kernel, comm_subshell, opened["comm_id"], value="typed"))
        reply, messages = run_in(kernel, "where, box.value", console)
        (result,) = outputs(messages, "execute_result")
        names, value = eval(result["data"]["text/plain"])
        assert value == "typed"
        assert len(names) == 1
        assert "Subshell" in names[0]
    finally:
        delete_subshell(kernel, console)
