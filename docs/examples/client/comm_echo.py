"""Comms from both ends: a cell registers a target, the client opens a comm to it, sends two
messages and reads the echoes.

Needs the ``async`` kernel spec (``async-kernel install``); give ``async-trio`` as the
argument to run it on trio.
"""

import sys
import uuid
from typing import Any

from jupyter_client.manager import start_new_kernel

REGISTER_ECHO_TARGET = """
import comm

def on_open(opened, open_msg):
    @opened.on_msg
    def echo(msg):
        opened.send(msg["content"]["data"])

comm.get_comm_manager().register_target("echo", on_open)
"""

KERNEL_NAME = sys.argv[1] if len(sys.argv) > 1 else "async"  # or "async-trio"
kernel, client = start_new_kernel(kernel_name=KERNEL_NAME)


def send(msg_type: str, **content: Any) -> str:
    request = client.session.msg(msg_type, content)
    client.shell_channel.send(request)
    return request["header"]["msg_id"]


def wait_idle(msg_id: str) -> None:
    """Wait until the kernel has handled the request (its ``status: idle``)."""
    while True:
        msg = client.get_iopub_msg(timeout=30)
        idle = msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
        if idle and msg["parent_header"].get("msg_id") == msg_id:
            return


try:
    reply = client.execute_interactive(REGISTER_ECHO_TARGET, timeout=30)
    assert reply["content"]["status"] == "ok"
    comm_id = uuid.uuid4().hex
    send("comm_open", comm_id=comm_id, target_name="echo", data={})
    send("comm_msg", comm_id=comm_id, data={"n": 1})
    send("comm_msg", comm_id=comm_id, data={"n": 2})
    echoed = 0
    while echoed < 2:
        msg = client.get_iopub_msg(timeout=30)
        if msg["msg_type"] == "comm_msg" and msg["content"]["comm_id"] == comm_id:
            print("echoed:", msg["content"]["data"])
            echoed += 1
    # comm_close waits in the comm queue; comm_info is answered at once, so wait for the close.
    wait_idle(send("comm_close", comm_id=comm_id, data={}))
    info = send("comm_info_request", target_name="echo")
    while True:
        msg = client.get_shell_msg(timeout=30)
        if msg["parent_header"].get("msg_id") == info:
            print("closed:", comm_id not in msg["content"]["comms"])
            break
finally:
    client.stop_channels()
    kernel.shutdown_kernel()
