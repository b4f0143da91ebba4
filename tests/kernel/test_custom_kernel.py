"""Custom kernels: a Kernel subclass's handler override and shell class, written as kernel specs
by write_kernel_spec and run over the wire with jupyter_client, on asyncio and trio."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from async_kernel import write_kernel_spec
from async_kernel.cli._kernelspec import LAUNCHER_FILE, list_kernel_specs, remove_kernel_spec
from tests.kernel_fixtures import KernelHarness, outputs, ready_client, stdout_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


def launch_echo_kernel(connection_file: str, backend: str) -> None:
    """A kernel that echoes cells, and answers inspect for one name itself."""
    from async_kernel import Kernel, start_kernel
    from async_kernel.messaging import Message  # noqa: TC001 - the copied source runs on its own

    class EchoKernel(Kernel):
        async def execute_request(self, msg: Message) -> None:
            self.publish("stream", {"name": "stdout", "text": msg.content["code"]}, msg)
            content = {"status": "ok", "execution_count": 1, "user_expressions": {}, "payload": []}
            self.reply(msg, "execute_reply", content)

        def inspect_request(self, msg: Message) -> None:
            if msg.content["code"] != "echo":
                self.default_handler("inspect_request")(msg)
                return
            data = {"text/plain": "the echo kernel"}
            content = {"status": "ok", "found": True, "data": data, "metadata": {}}
            self.reply(msg, "inspect_reply", content)

    start_kernel(connection_file, backend=backend, kernel_class=EchoKernel)


def launch_calculator_kernel(connection_file: str, backend: str) -> None:
    """A kernel whose shell reads ``^`` as a power."""
    from async_kernel import Kernel, KernelShell, start_kernel

    class CalculatorShell(KernelShell):
        def transform_cell(self, raw_cell: str):
            return super().transform_cell(raw_cell.replace("^", "**"))

    class CalculatorKernel(Kernel):
        shell_class = CalculatorShell

    start_kernel(connection_file, backend=backend, kernel_class=CalculatorKernel)


@contextmanager
def spec_kernel(
    folder: Path, backend: str, launcher: Callable[[str, str], None]
) -> Iterator[KernelHarness]:
    """Write a spec for ``launcher`` and start it through jupyter_client, as Jupyter would."""
    prefix = folder / "prefix"
    spec_dir = write_kernel_spec(
        "custom", backend=backend, launcher=launcher, env={"CUSTOM": "yes"}, prefix=str(prefix)
    )
    specs = KernelSpecManager(kernel_dirs=[str(spec_dir.parent)])
    manager = KernelManager(kernel_name="custom", kernel_spec_manager=specs)
    log_path = folder / "kernel.log"
    with log_path.open("ab") as log_file:
        env = dict(os.environ, IPYTHONDIR=str(folder / "ipython"))
        manager.start_kernel(env=env, stdout=log_file, stderr=log_file)
        client = ready_client(manager, log_path)
        try:
            yield KernelHarness(manager, client)
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=False)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_an_overridden_handler_serves_its_message_type(tmp_path: Path, backend: str) -> None:
    with spec_kernel(tmp_path, backend, launch_echo_kernel) as kernel:
        reply, messages = kernel.execute("1 + 1")
        assert reply["content"]["status"] == "ok"
        assert stdout_of(messages) == "1 + 1"
        assert outputs(messages, "execute_result") == []  # echoed, not run
        states = [c["execution_state"] for c in outputs(messages, "status")]
        assert states == ["busy", "idle"]  # the dispatcher still wraps the override
        inspected = kernel.reply_for(kernel.client.inspect("echo"))["content"]
        assert inspected["data"] == {"text/plain": "the echo kernel"}
        inspected = kernel.reply_for(kernel.client.inspect("len"))["content"]
        assert "Return the number of items" in inspected["data"]["text/plain"]  # the default
        info = kernel.reply_for(kernel.client.kernel_info())["content"]
        assert info["implementation"] == "async_kernel"  # not overridden: built in


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_shell_class_changes_how_cells_run(tmp_path: Path, backend: str) -> None:
    with spec_kernel(tmp_path, backend, launch_calculator_kernel) as kernel:
        reply, messages = kernel.execute(
            "import os, sniffio\n2 ^ 10, os.environ['CUSTOM'], sniffio.current_async_library()"
        )
        assert reply["content"]["status"] == "ok"
        (result,) = outputs(messages, "execute_result")
        assert result["data"]["text/plain"] == f"(1024, 'yes', '{backend}')"


def test_write_kernel_spec_with_a_command(tmp_path: Path) -> None:
    command = ("uv", "run", "--module", "async_kernel")
    path = write_kernel_spec(
        "with-uv", display_name="uv", command=command, backend="trio", prefix=str(tmp_path)
    )
    spec = json.loads((path / "kernel.json").read_text())
    assert spec["argv"] == [*command, "-f", "{connection_file}", "--backend", "trio"]
    assert spec["display_name"] == "uv"
    assert [found.name for found in list_kernel_specs(prefix=str(tmp_path))] == ["with-uv"]
    assert remove_kernel_spec("with-uv", prefix=str(tmp_path)) == path  # still one of ours


def test_write_kernel_spec_with_a_launcher_path(tmp_path: Path) -> None:
    path = write_kernel_spec("by-path", launcher="my_kernels.echo:launch", prefix=str(tmp_path))
    spec = json.loads((path / "kernel.json").read_text())
    assert spec["argv"] == [
        sys.executable,
        f"{{resource_dir}}/{LAUNCHER_FILE}",
        "-f",
        "{connection_file}",
    ]
    script = (path / LAUNCHER_FILE).read_text()
    assert "from my_kernels.echo import launch as launch" in script
    compile(script, LAUNCHER_FILE, "exec")


def test_write_kernel_spec_refuses_what_cannot_work(tmp_path: Path) -> None:
    def nested(connection_file: str, backend: str) -> None:
        del connection_file, backend

    with pytest.raises(ValueError, match="module-level function"):
        write_kernel_spec("nested", launcher=nested, prefix=str(tmp_path))
    with pytest.raises(ValueError, match="a command or a launcher, not both"):
        write_kernel_spec("both", command=("x",), launcher=nested, prefix=str(tmp_path))
    with pytest.raises(ValueError, match="'module:function'"):
        write_kernel_spec("bad-path", launcher="no_function_here", prefix=str(tmp_path))
