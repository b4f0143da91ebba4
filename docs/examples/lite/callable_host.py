"""A host for the callable interface, as a JupyterLite kernel extension's worker is one.

Runs in CPython with threads switched off, so the kernel behaves as it does in Pyodide.
"""

import asyncio
import sys
import uuid

from async_caller.lowlevel import set_threads_available

set_threads_available(False)  # in Pyodide this is detected; here we ask for it

from async_kernel import CallableKernel  # after the switch, as in Pyodide

received: list[dict] = []
idle = asyncio.Event()


def on_message(message: dict) -> None:
    """What the kernel sends: a Lite extension posts it to the page (kernel's loop)."""
    received.append(message)
    if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
        idle.set()


def request(channel: str, msg_type: str, content: dict) -> dict:
    """A message as JupyterLite's frontend makes it."""
    header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": "lite"}
    return {"channel": channel, "header": header, "parent_header": {}, "metadata": {},
            "content": content}  # fmt: skip


async def ask(kernel: CallableKernel, channel: str, msg_type: str, content: dict) -> list[dict]:
    """Send one request; return what the kernel sent for it, up to its status: idle."""
    message = request(channel, msg_type, content)
    idle.clear()
    kernel.receive(message)
    await idle.wait()
    msg_id = message["header"]["msg_id"]
    return [m for m in received if m["parent_header"].get("msg_id") == msg_id]


async def main() -> None:
    terminal = sys.stdout  # once started, the kernel owns sys.stdout: cells print to the frontend
    kernel = CallableKernel(on_message)
    await kernel.start()

    for message in await ask(kernel, "shell", "kernel_info_request", {}):
        if message["msg_type"] == "kernel_info_reply":
            print(f"kernel: {message['content']['implementation']}", file=terminal)

    code = "import asyncio\nawait asyncio.sleep(0.1)\nprint('awaited')\n6 * 7"
    for message in await ask(kernel, "shell", "execute_request", {"code": code}):
        if message["msg_type"] == "stream":
            print(f"stream: {message['content']['text']}", end="", file=terminal)
        if message["msg_type"] == "execute_result":
            print(f"result: {message['content']['data']['text/plain']}", file=terminal)

    await ask(kernel, "control", "shutdown_request", {"restart": False})
    await kernel.wait_stopped()
    print("kernel stopped", file=terminal)


asyncio.run(main())
