"""Two custom kernels, each written as a kernel spec and run through jupyter_client.

An echo kernel overrides the handler of one message type (``execute_request``); a calculator
kernel keeps every handler and sets the kernel's shell class instead, to change how a cell's
code is transformed. ``write_kernel_spec`` copies each launcher function into its spec's
folder, so Jupyter starts it like any kernel. Runs on asyncio and on trio.
"""

import tempfile
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from async_kernel import write_kernel_spec


def launch_echo_kernel(connection_file: str, backend: str) -> None:
    """Start a kernel that prints each cell's code instead of running it."""
    from async_kernel import Kernel, start_kernel
    from async_kernel.messaging import Message

    class EchoKernel(Kernel):
        async def execute_request(self, msg: Message) -> None:
            code = msg.content.get("code", "")
            self.publish("stream", {"name": "stdout", "text": f"echo: {code}"}, msg)
            reply = {"status": "ok", "execution_count": 1, "user_expressions": {}, "payload": []}
            self.reply(msg, "execute_reply", reply)

    start_kernel(connection_file, backend=backend, kernel_class=EchoKernel)


def launch_calculator_kernel(connection_file: str, backend: str) -> None:
    """Start a kernel whose cells write powers as 2 ^ 10, as calculators do."""
    from async_kernel import Kernel, KernelShell, start_kernel

    class CalculatorShell(KernelShell):
        def transform_cell(self, raw_cell: str):
            return super().transform_cell(raw_cell.replace("^", "**"))

    class CalculatorKernel(Kernel):
        shell_class = CalculatorShell

    start_kernel(connection_file, backend=backend, kernel_class=CalculatorKernel)


def run(spec_manager: KernelSpecManager, name: str, code: str) -> str:
    """Start the kernel of spec ``name``, run ``code``, return what it showed."""
    manager = KernelManager(kernel_name=name, kernel_spec_manager=spec_manager)
    manager.start_kernel()
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        shown: list[str] = []

        def keep(msg: dict) -> None:
            content = msg["content"]
            if msg["msg_type"] == "stream":
                shown.append(content["text"])
            elif msg["msg_type"] == "execute_result":
                shown.append(content["data"]["text/plain"])

        client.execute_interactive(code, output_hook=keep, timeout=60)
        return "".join(shown)
    finally:
        client.stop_channels()
        manager.shutdown_kernel()


with tempfile.TemporaryDirectory() as prefix:
    kernels = Path(prefix, "share", "jupyter", "kernels")
    specs = KernelSpecManager(kernel_dirs=[str(kernels)])
    for backend in ("asyncio", "trio"):
        write_kernel_spec(
            f"echo-{backend}", backend=backend, launcher=launch_echo_kernel, prefix=prefix
        )
        write_kernel_spec(
            f"calculator-{backend}",
            display_name="Calculator",
            backend=backend,
            launcher=launch_calculator_kernel,
            env={"CALCULATOR_PRECISION": "4"},
            prefix=prefix,
        )
        print(f"{backend} echo kernel:", run(specs, f"echo-{backend}", "1 + 1"))
        print(f"{backend} calculator kernel:", run(specs, f"calculator-{backend}", "2 ^ 10"))
