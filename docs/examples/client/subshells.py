"""Subshells (JEP 91) from a client: create one, run a cell in it while the main shell is blocked,
list and delete it.

Needs the ``async`` kernel spec (``async-kernel install``); give ``async-trio`` as the
argument to run it on trio.
"""

import sys
from typing import Any

from jupyter_client.manager import start_new_kernel

KERNEL_NAME = sys.argv[1] if len(sys.argv) > 1 else "async"  # or "async-trio"
kernel, client = start_new_kernel(kernel_name=KERNEL_NAME)


def control(msg_type: str, **content: Any) -> dict[str, Any]:
    """Send a request on the control channel; return its reply's content."""
    request = client.session.msg(msg_type, content)
    client.control_channel.send(request)
    while True:
        reply = client.get_control_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == request["header"]["msg_id"]:
            return reply["content"]


def execute(code: str, subshell_id: str | None = None) -> str:
    """Send a cell to the main shell, or to a subshell; return the request's id."""
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}}
    request = client.session.msg("execute_request", content)
    if subshell_id is not None:
        request["header"]["subshell_id"] = subshell_id  # the one field that picks the shell
    client.shell_channel.send(request)
    return request["header"]["msg_id"]


printed: dict[str, str] = {}
finished: set[str] = set()


def stdout_until_idle(msg_id: str) -> str:
    """The text the request printed, once the kernel is idle for it.

    iopub carries every shell's output, so messages for other requests are kept for later.
    """
    while msg_id not in finished:
        msg = client.get_iopub_msg(timeout=30)
        parent = msg["parent_header"].get("msg_id", "")
        if msg["msg_type"] == "stream":
            printed[parent] = printed.get(parent, "") + msg["content"]["text"]
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            finished.add(parent)
    return printed.get(msg_id, "")


try:
    subshell = control("create_subshell_request")["subshell_id"]
    stdout_until_idle(execute("import threading\nrelease = threading.Event()"))
    main_cell = execute(
        "released = release.wait(timeout=60)\n"
        "print('main shell:', 'released by the subshell' if released else 'timed out')"
    )
    stdout_until_idle(execute("release.set()", subshell))  # runs while the main shell blocks
    print(stdout_until_idle(main_cell), end="")
    print("subshells:", len(control("list_subshell_request")["subshell_id"]))
    print("deleted:", control("delete_subshell_request", subshell_id=subshell)["status"])
    print("subshells after delete:", len(control("list_subshell_request")["subshell_id"]))
finally:
    client.stop_channels()
    kernel.shutdown_kernel()
