"""A client's view: the kernel answers while a cell runs, and interrupts (the message or SIGINT)
stop blocking and awaiting cells alike.

Needs the ``async`` kernel spec (``async-kernel install``); give ``async-trio`` as the
argument to run it on trio.
"""

import signal
import sys
from typing import Any

from jupyter_client.manager import start_new_kernel

KERNEL_NAME = sys.argv[1] if len(sys.argv) > 1 else "async"  # or "async-trio"
kernel, client = start_new_kernel(kernel_name=KERNEL_NAME)


def reply_to(msg_id: str) -> dict[str, Any]:
    """The content of the shell reply to ``msg_id``."""
    while True:
        msg = client.get_shell_msg(timeout=30)
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg["content"]


def wait_until_started(msg_id: str) -> None:
    """Wait for the cell's ``execute_input`` on iopub: the cell is running."""
    while True:
        msg = client.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
            return


try:
    cell = client.execute("import time\ntime.sleep(600)")
    wait_until_started(cell)
    # The cell holds the main thread, yet these are answered at once.
    print("kernel_info while the cell runs:", reply_to(client.kernel_info())["status"])
    print("completions while the cell runs:", reply_to(client.complete("time.slee"))["matches"])
    kernel.interrupt_kernel()  # the spec's interrupt_mode is "message": an interrupt_request
    reply = reply_to(cell)
    print("blocking cell:", reply["status"], reply["ename"])

    cell = client.execute("import anyio\nawait anyio.sleep(600)")
    wait_until_started(cell)
    kernel.interrupt_kernel()
    reply = reply_to(cell)
    print("awaiting cell:", reply["status"], reply["ename"])

    cell = client.execute("while True: pass")  # a busy loop this time
    wait_until_started(cell)
    kernel.signal_kernel(signal.SIGINT)  # a signal works as well as the message
    reply = reply_to(cell)
    print("signalled cell:", reply["status"], reply["ename"])

    shown: list[dict[str, Any]] = []
    client.execute_interactive("1 + 1", output_hook=shown.append, timeout=30)
    (result,) = [msg["content"] for msg in shown if msg["msg_type"] == "execute_result"]
    print("the kernel goes on:", result["data"]["text/plain"])
finally:
    client.stop_channels()
    kernel.shutdown_kernel()
