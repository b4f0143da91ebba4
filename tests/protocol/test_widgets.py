"""ipywidgets 8 over the wire: model sync both ways, Output capture, interact, tqdm, events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.kernel_fixtures import TIMEOUT, outputs, stdout_of
from tests.protocol.test_comms import evaluate, ok, send, wait_for_iopub

if TYPE_CHECKING:
    from tests.kernel_fixtures import KernelHarness

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def widget_opens(messages: list[dict[str, Any]], model_name: str) -> list[dict[str, Any]]:
    """The contents of the comm_open messages that created widgets of ``model_name``."""
    return [
        c
        for c in outputs(messages, "comm_open")
        if c["target_name"] == "jupyter.widget" and c["data"]["state"]["_model_name"] == model_name
    ]


def displayed_model_id(kernel: KernelHarness, cell: str) -> str:
    """Wait for the running ``cell`` to display a widget; return the widget's model (comm) id."""
    shown = wait_for_iopub(kernel, cell, "display_data")
    return shown["content"]["data"][WIDGET_MIME]["model_id"]


def update(kernel: KernelHarness, comm_id: str, **state: Any) -> list[dict[str, Any]]:
    """Send a frontend ``update`` of ``state`` to a widget; return the iopub messages it caused."""
    data = {"method": "update", "state": state, "buffer_paths": []}
    return kernel.iopub_for(send(kernel, "comm_msg", {"comm_id": comm_id, "data": data}))


@pytest.mark.callable_interface
def test_slider_syncs_both_ways(kernel: KernelHarness) -> None:
    messages = ok(kernel, "import ipywidgets as w\nslider = w.IntSlider(value=1)\ndisplay(slider)")
    (opened,) = widget_opens(messages, "IntSliderModel")
    comm_id = opened["comm_id"]
    assert opened["data"]["state"]["value"] == 1
    (shown,) = outputs(messages, "display_data")
    assert shown["data"][WIDGET_MIME]["model_id"] == comm_id

    echoed = update(kernel, comm_id, value=7)
    echo = [c["data"] for c in outputs(echoed, "comm_msg")]
    assert echo == [{"method": "echo_update", "state": {"value": 7}, "buffer_paths": []}]
    assert evaluate(kernel, "slider.value") == "7"

    changed = ok(kernel, "slider.value = 3")
    sent = [c["data"] for c in outputs(changed, "comm_msg") if c["comm_id"] == comm_id]
    assert sent == [{"method": "update", "state": {"value": 3}, "buffer_paths": []}]


@pytest.mark.callable_interface
def test_control_comm_sends_all_widget_states(kernel: KernelHarness) -> None:
    ok(kernel, "import ipywidgets as w\nbox = w.Checkbox(value=True)")
    comm_id = "control-comm"
    content = {"comm_id": comm_id, "target_name": "jupyter.widget.control", "data": {}}
    msg = kernel.client.session.msg("comm_open", content, metadata={"version": "1.0.0"})
    kernel.client.shell_channel.send(msg)
    assert outputs(kernel.iopub_for(msg["header"]["msg_id"]), "comm_close") == []
    data = {"method": "request_states"}
    replies = outputs(
        kernel.iopub_for(send(kernel, "comm_msg", {"comm_id": comm_id, "data": data})), "comm_msg"
    )
    (states,) = [c["data"] for c in replies]
    assert states["method"] == "update_states"
    model_id = evaluate(kernel, "box.model_id").strip("'")
    assert states["states"][model_id]["state"]["value"] is True


@pytest.mark.callable_interface
def test_output_widget_captures_cell_output(kernel: KernelHarness) -> None:
    msg_id = kernel.client.execute(
        "import ipywidgets as w\nout = w.Output()\ndisplay(out)\nwith out:\n    print('captured')\n"
    )
    assert kernel.reply_for(msg_id)["content"]["status"] == "ok"
    messages = kernel.iopub_for(msg_id)
    (opened,) = widget_opens(messages, "OutputModel")
    comm_id = opened["comm_id"]
    relevant = [
        m
        for m in messages
        if m["msg_type"] == "stream"
        or (m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id)
    ]
    steps = [
        m["content"]["data"]["state"]["msg_id"]
        if m["msg_type"] == "comm_msg"
        else m["content"]["text"]
        for m in relevant
    ]
    assert steps == [msg_id, "captured\n", ""]


@pytest.mark.callable_interface
def test_interact_reruns_its_function_on_a_frontend_change(kernel: KernelHarness) -> None:
    code = (
        "from ipywidgets import interact\n"
        "def show(x):\n"
        "    print('x is', x)\n"
        "interact(show, x=5);\n"
    )
    messages = ok(kernel, code)
    assert stdout_of(messages) == "x is 5\n"
    (slider,) = widget_opens(messages, "IntSliderModel")
    changed = update(kernel, slider["comm_id"], value=6)
    assert stdout_of(changed) == "x is 6\n"
    (output,) = widget_opens(messages, "OutputModel")
    capture_ids = [
        c["data"]["state"]["msg_id"]
        for c in outputs(changed, "comm_msg")
        if c["comm_id"] == output["comm_id"] and "msg_id" in c["data"]["state"]
    ]
    assert capture_ids[0] == changed[0]["parent_header"]["msg_id"]
    assert capture_ids[-1] == ""


@pytest.mark.callable_interface
def test_tqdm_notebook_bar_is_a_widget(kernel: KernelHarness) -> None:
    messages = ok(kernel, "from tqdm.notebook import tqdm\nfor _ in tqdm(range(3)):\n    pass\n")
    assert widget_opens(messages, "FloatProgressModel")


def test_plotly_figures_render_as_plotly_json(kernel: KernelHarness) -> None:
    """plotly picks its notebook renderer: JupyterLab draws the figure from its JSON bundle."""
    messages = ok(
        kernel,
        "import plotly.graph_objects as go, plotly.io as pio\n"
        "print(pio.renderers.default)\n"
        "go.Figure(data=[go.Bar(y=[1, 2])]).show()",
    )
    assert stdout_of(messages) == "plotly_mimetype+notebook\n"
    bundles = [content["data"] for content in outputs(messages, "display_data")]
    figures = [data for data in bundles if "application/vnd.plotly.v1+json" in data]
    assert len(figures) == 1
    assert figures[0]["application/vnd.plotly.v1+json"]["data"][0]["y"] == [1, 2]


@pytest.mark.callable_interface
def test_tqdm_auto_picks_the_notebook_bar(kernel: KernelHarness) -> None:
    """tqdm.auto looks for ipykernel's shell module; the kernel imports it first when installed."""
    messages = ok(kernel, "from tqdm.auto import tqdm\nfor _ in tqdm(range(3)):\n    pass\n")
    assert widget_opens(messages, "FloatProgressModel")


@pytest.mark.callable_interface
@pytest.mark.parametrize("first_line", ["", "# thread\n"], ids=["main", "thread"])
def test_cell_awaiting_a_widget_event_completes(kernel: KernelHarness, first_line: str) -> None:
    code = (
        f"{first_line}"
        "import ipywidgets as w\n"
        "from async_caller import Pending\n"
        "button_value = Pending()\n"
        "slider = w.IntSlider()\n"
        "slider.observe(lambda change: button_value.set_result(change['new']), 'value')\n"
        "display(slider)\n"
        "print('got', await button_value)\n"
    )
    cell = kernel.client.execute(code)
    update(kernel, displayed_model_id(kernel, cell), value=9)
    reply = kernel.reply_for(cell)
    assert reply["content"]["status"] == "ok"
    assert stdout_of(kernel.iopub_for(cell)) == "got 9\n"


@pytest.mark.callable_interface
def test_widget_event_resolves_a_future_awaited_by_a_task(kernel: KernelHarness) -> None:
    code = (
        "import anyio, ipywidgets as w\n"
        "from async_caller import Pending\n"
        "clicked = Pending()\n"
        "button = w.Button()\n"
        "button.on_click(lambda b: clicked.set_result('clicked'))\n"
        "display(button)\n"
        f"with anyio.fail_after({TIMEOUT}):\n"
        "    print(await clicked)\n"
    )
    cell = kernel.client.execute(code)
    button_id = displayed_model_id(kernel, cell)
    data = {"method": "custom", "content": {"event": "click"}}
    kernel.iopub_for(send(kernel, "comm_msg", {"comm_id": button_id, "data": data}))
    assert kernel.reply_for(cell)["content"]["status"] == "ok"
    assert stdout_of(kernel.iopub_for(cell)) == "clicked\n"
