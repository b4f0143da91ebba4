"""A cell tag chooses the run mode, as a first-line ``# thread`` comment would. Notebook front ends
send a cell's tags in the execute_request's metadata; here we send them by hand.

Needs the ``async`` kernel spec (``async-kernel install``); give ``async-trio`` as the
argument to run it on trio.
"""

import sys
from typing import Any

from jupyter_client.manager import start_new_kernel

KERNEL_NAME = sys.argv[1] if len(sys.argv) > 1 else "async"  # or "async-trio"
kernel, client = start_new_kernel(kernel_name=KERNEL_NAME)
try:
    code = "import threading\nthreading.current_thread() is threading.main_thread()"
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}}
    request = client.session.msg("execute_request", content, metadata={"tags": ["thread"]})
    client.shell_channel.send(request)
    while True:
        msg: dict[str, Any] = client.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") != request["header"]["msg_id"]:
            continue
        if msg["msg_type"] == "execute_result":
            print("tagged cell ran in the main thread:", msg["content"]["data"]["text/plain"])
            break
finally:
    client.stop_channels()
    kernel.shutdown_kernel()
