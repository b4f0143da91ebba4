"""ZMQClient: an async client on asyncio and trio that starts a kernel process from its spec."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from async_caller import Pending
from tests.kernel_fixtures import write_spec

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio


@pytest.fixture
def kernel_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, anyio_backend: str) -> str:
    """A kernel spec named ``test`` for a kernel on the test's own backend; Jupyter finds it."""
    write_spec(tmp_path, anyio_backend)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    return "test"


async def test_kernel_info_execute_complete_inspect_shutdown(kernel_specs: str) -> None:
    from async_kernel.messaging.zmq import ZMQClient

    async with ZMQClient.subprocess_kernel(name=kernel_specs) as client:
        info = await client.kernel_info()
        assert info.content["implementation"] == "async_kernel"
        done = await client.execute(
            "import sniffio\nvalue = 6 * 7\nprint('printed')\nsniffio.current_async_library()",
            user_expressions={"doubled": "value * 2"},
        )
        assert done.status == "ok"
        assert done.stdout == "printed\n"
        (result,) = [m for m in done.outputs if m["msg_type"] == "execute_result"]
        assert result["content"]["data"]["text/plain"] == f"'{sniffio_backend()}'"
        assert done.content["user_expressions"]["doubled"]["data"]["text/plain"] == "84"
        failed = await client.execute("1 / 0")
        assert (failed.status, failed.content["ename"]) == ("error", "ZeroDivisionError")
        completed = await client.complete("import o")
        assert "os" in completed.content["matches"]
        inspected = await client.inspect("value")
        assert inspected.content["found"] is True
        reply = await client.shutdown()
        assert reply.content["status"] == "ok"


def sniffio_backend() -> str:
    import sniffio

    return sniffio.current_async_library()


async def test_interrupt_stops_a_blocking_cell(kernel_specs: str) -> None:
    from async_kernel.messaging.zmq import ZMQClient

    async with ZMQClient.subprocess_kernel(name=kernel_specs) as client:
        started: Pending[None] = Pending()

        def on_output(message: dict[str, Any]) -> None:
            if message["msg_type"] == "execute_input" and not started.done():
                started.set_result(None)

        client.on_output = on_output
        results: list[Any] = []
        interrupted = None
        async with anyio.create_task_group() as group:

            async def run_slow() -> None:
                results.append(await client.execute("import time\ntime.sleep(60)"))

            group.start_soon(run_slow)
            await started
            interrupted = await client.interrupt()
        assert interrupted is not None
        assert interrupted.status == "ok"
        assert results[0].content["ename"] == "KeyboardInterrupt"
        assert (await client.execute("1")).status == "ok"


async def test_an_unknown_kernel_spec_is_a_clear_error(kernel_specs: str) -> None:
    from async_kernel.client import ClientError
    from async_kernel.messaging.zmq import ZMQClient

    with pytest.raises(ClientError, match=r"no kernel spec named 'nope' \(found: .*test"):
        async with ZMQClient.subprocess_kernel(name="nope"):
            pass


async def test_requests_need_a_connection() -> None:
    from async_kernel.client import ClientError, ZMQClient
    from async_kernel.messaging._connection import ConnectionInfo

    client = ZMQClient(ConnectionInfo.generate())
    with pytest.raises(ClientError, match="not connected"):
        await client.kernel_info()


def write_raw_spec(folder: Path, name: str, argv: list[str]) -> None:
    spec_dir = folder / "kernels" / name
    spec_dir.mkdir(parents=True)
    spec = {"argv": argv, "display_name": name, "language": "python", "interrupt_mode": "message"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))


async def test_a_kernel_that_dies_before_answering_is_started_again(
    kernel_specs: str, tmp_path: Path, anyio_backend: str
) -> None:
    from async_kernel.messaging.zmq import ZMQClient

    # The first start dies at once, as a kernel whose port was taken meanwhile does.
    marker = tmp_path / "started-once"
    script = (
        "import pathlib, sys, runpy\n"
        f"marker = pathlib.Path({str(marker)!r})\n"
        "if not marker.exists():\n"
        "    marker.touch()\n"
        "    sys.exit(1)\n"
        "sys.argv = ['async_kernel', *sys.argv[1:]]\n"
        "runpy.run_module('async_kernel', run_name='__main__')\n"
    )
    argv = [sys.executable, "-c", script, "-f", "{connection_file}", "--backend", anyio_backend]
    write_raw_spec(tmp_path, "flaky", argv)
    async with ZMQClient.subprocess_kernel(name="flaky") as client:
        assert (await client.execute("1")).status == "ok"
    assert marker.exists()


async def test_a_kernel_that_never_starts_is_a_clear_error(
    kernel_specs: str, tmp_path: Path
) -> None:
    from async_kernel.client import ClientError
    from async_kernel.messaging.zmq import ZMQClient

    write_raw_spec(tmp_path, "broken", [sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(ClientError, match="exited with status 3"):
        async with ZMQClient.subprocess_kernel(name="broken"):
            pass
