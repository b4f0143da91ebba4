"""A cell that awaits a widget event completes: the front end's update reaches the widget while
the cell awaits. This script plays the front end that moves the slider.

Needs the ``async`` kernel spec (``async-kernel install``); give ``async-trio`` as the
argument to run it on trio.
"""

import sys
from typing import Any

from jupyter_client.manager import start_new_kernel

CELL = """
import anyio
import ipywidgets as widgets

slider = widgets.IntSlider(value=0)
moved = anyio.Event()
slider.observe(lambda change: moved.set(), names="value")
display(slider)
await moved.wait()  # the cell waits here for the user, and the kernel keeps serving
print("the cell saw the slider move to", slider.value)
"""
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

KERNEL_NAME = sys.argv[1] if len(sys.argv) > 1 else "async"  # or "async-trio"
kernel, client = start_new_kernel(kernel_name=KERNEL_NAME)
try:
    cell = client.execute(CELL)
    while True:  # wait until the cell displays the slider
        msg: dict[str, Any] = client.get_iopub_msg(timeout=30)
        if msg["msg_type"] == "display_data" and WIDGET_VIEW in msg["content"]["data"]:
            model_id = msg["content"]["data"][WIDGET_VIEW]["model_id"]
            break
    # What JupyterLab sends when the user drags the slider to 7.
    update = {"method": "update", "state": {"value": 7}, "buffer_paths": []}
    client.shell_channel.send(client.session.msg("comm_msg", {"comm_id": model_id, "data": update}))
    printed = ""
    while True:  # the cell's output, until the kernel is idle for it
        msg = client.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") != cell:
            continue
        if msg["msg_type"] == "stream":
            printed += msg["content"]["text"]
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    print(printed, end="")
finally:
    client.stop_channels()
    kernel.shutdown_kernel()
