"""``input()`` in a cell asks the front end that sent the cell, over the stdin channel. This
script plays the front end that answers.

Needs the ``async`` kernel spec (``async-kernel install``); give ``async-trio`` as the
argument to run it on trio.
"""

import sys
from typing import Any

from jupyter_client.manager import start_new_kernel

KERNEL_NAME = sys.argv[1] if len(sys.argv) > 1 else "async"  # or "async-trio"
kernel, client = start_new_kernel(kernel_name=KERNEL_NAME)
try:
    cell = client.execute('name = input("Your name? ")\nprint("hello", name)', allow_stdin=True)
    request: dict[str, Any] = client.get_stdin_msg(timeout=30)
    print("the kernel asks:", request["content"]["prompt"])
    client.input("Ada")  # the input_reply
    printed = ""
    while True:  # the cell's output, until the kernel is idle for it
        msg = client.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") != cell:
            continue
        if msg["msg_type"] == "stream":
            printed += msg["content"]["text"]
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    print("the cell prints:", printed, end="")
finally:
    client.stop_channels()
    kernel.shutdown_kernel()
