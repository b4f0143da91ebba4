"""Cell tags as directives: a time limit, and an expected error that does not stop Run All.

Notebook front ends send a cell's tags in the execute_request's metadata; here we send them by
hand, the way nbclient and papermill do. Needs the ``async`` kernel spec (``async-kernel
install``); give ``async-trio`` as the argument to run it on trio.
"""

import sys
from typing import Any

from jupyter_client.manager import start_new_kernel

KERNEL_NAME = sys.argv[1] if len(sys.argv) > 1 else "async"  # or "async-trio"
kernel, client = start_new_kernel(kernel_name=KERNEL_NAME)


def send(code: str, tags: list[str]) -> str:
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}}
    request = client.session.msg("execute_request", content, metadata={"tags": tags})
    client.shell_channel.send(request)
    return request["header"]["msg_id"]


def reply_to(msg_id: str) -> dict[str, Any]:
    while True:
        msg: dict[str, Any] = client.get_shell_msg(timeout=30)
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg["content"]


try:
    slow = send("import time\ntime.sleep(60)", ["timeout=0.5"])
    content = reply_to(slow)
    print(f"slow cell: {content['ename']}: {content['evalue']}")

    # Sent together, as Run All does: the expected error does not abort the next cell.
    failing = send("1 / 0", ["raises-exception"])
    after = send("print('still runs')", ["parameters"])  # papermill's tag: ignored
    print("expected error:", reply_to(failing)["ename"])
    print("the next cell:", reply_to(after)["status"])
finally:
    client.stop_channels()
    kernel.shutdown_kernel()
