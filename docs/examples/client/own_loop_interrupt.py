"""A client's view of a cell that runs its own event loop: the kernel answers meanwhile, and an
interrupt (the message or SIGINT) stops the inner loop with KeyboardInterrupt.

Needs the ``async`` kernel spec (``async-kernel install``); give ``async-trio`` as the
argument to run it on trio.
"""

import signal
import sys
from typing import Any

from jupyter_client.manager import start_new_kernel

KERNEL_NAME = sys.argv[1] if len(sys.argv) > 1 else "async"  # or "async-trio"
kernel, client = start_new_kernel(kernel_name=KERNEL_NAME)

ASYNCIO_CELL = """\
import asyncio

async def main():
    print("inner loop running", flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""

TRIO_CELL = """\
import trio

async def main():
    print("inner loop running", flush=True)
    await trio.sleep(600)

trio.run(main)
"""


def reply_to(msg_id: str) -> dict[str, Any]:
    """The content of the shell reply to ``msg_id``."""
    while True:
        msg = client.get_shell_msg(timeout=30)
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg["content"]


def wait_for_inner_loop(msg_id: str) -> None:
    """Wait until the cell prints that its inner loop runs."""
    while True:
        msg = client.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") != msg_id or msg["msg_type"] != "stream":
            continue
        if "inner loop running" in msg["content"]["text"]:
            return


try:
    cell = client.execute(ASYNCIO_CELL)
    wait_for_inner_loop(cell)
    print("kernel_info while asyncio.run runs:", reply_to(client.kernel_info())["status"])
    kernel.interrupt_kernel()  # the spec's interrupt_mode is "message": an interrupt_request
    reply = reply_to(cell)
    print("asyncio.run cell:", reply["status"], reply["ename"])

    cell = client.execute(TRIO_CELL)
    wait_for_inner_loop(cell)
    kernel.signal_kernel(signal.SIGINT)  # a signal works as well as the message
    reply = reply_to(cell)
    print("trio.run cell:", reply["status"], reply["ename"])

    shown: list[dict[str, Any]] = []
    client.execute_interactive(
        "asyncio.run(asyncio.sleep(0, 'again'))", output_hook=shown.append, timeout=30
    )
    (result,) = [msg["content"] for msg in shown if msg["msg_type"] == "execute_result"]
    print("the kernel goes on:", result["data"]["text/plain"])
finally:
    client.stop_channels()
    kernel.shutdown_kernel()
