"""ipympl over the wire: %matplotlib widget figures are widgets that draw through comms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.gui.helpers import ok, result
from tests.kernel_fixtures import outputs

if TYPE_CHECKING:
    from tests.kernel_fixtures import KernelHarness

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def canvas_opens(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The comm_open messages that created ipympl canvases."""
    return [
        content
        for content in outputs(messages, "comm_open")
        if content["target_name"] == "jupyter.widget"
        and content["data"]["state"]["_model_name"] == "MPLCanvasModel"
    ]


def custom(kernel: KernelHarness, comm_id: str, content: dict[str, Any]) -> list[dict[str, Any]]:
    """Send a widget ``custom`` message as ipympl's frontend does; return what it caused."""
    msg = kernel.client.session.msg(
        "comm_msg", {"comm_id": comm_id, "data": {"method": "custom", "content": content}}
    )
    kernel.client.shell_channel.send(msg)
    return kernel.iopub_for(msg["header"]["msg_id"])


@pytest.mark.parametrize("magic", ["%matplotlib widget", "%matplotlib ipympl"])
def test_figure_is_a_comm_widget_that_draws_on_request(kernel: KernelHarness, magic: str) -> None:
    """The figure opens an MPLCanvasModel comm and is displayed; a draw request sends a PNG."""
    ok(kernel, magic)
    messages = ok(kernel, "import matplotlib.pyplot as plt\nfig = plt.figure()\nplt.plot([1, 2]);")
    (opened,) = canvas_opens(messages)
    comm_id = opened["comm_id"]
    shown = [c["data"][WIDGET_MIME]["model_id"] for c in outputs(messages, "display_data")]
    assert shown == [comm_id]

    custom(kernel, comm_id, {"type": "initialized"})
    replies = [
        c
        for c in outputs(custom(kernel, comm_id, {"type": "draw"}), "comm_msg")
        if c["comm_id"] == comm_id
    ]
    binary = [
        c for c in replies if c["data"].get("content", {}).get("data") == '{"type": "binary"}'
    ]
    assert binary, [c["data"] for c in replies]
    ok(kernel, "plt.close('all')\n%matplotlib inline")
    assert result(kernel, "get_ipython().kernel.gui.active_name") == "'inline'"


def test_switching_back_to_inline_shows_images(kernel: KernelHarness) -> None:
    """After %matplotlib widget, %matplotlib inline gives image/png output again."""
    ok(kernel, "%matplotlib widget")
    ok(kernel, "%matplotlib inline")
    messages = ok(kernel, "import matplotlib.pyplot as plt\nplt.plot([1, 2]);")
    assert canvas_opens(messages) == []
    (figure,) = outputs(messages, "display_data")
    assert "image/png" in figure["data"]
