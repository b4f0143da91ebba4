"""The dispatcher, in process: run modes, unknown requests and subshells, failing handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .conftest import InProcessKernel

pytestmark = pytest.mark.anyio


async def test_unknown_message_type_gets_an_error_reply(kernel: InProcessKernel) -> None:
    reply = await kernel.request("no_such_request")
    assert reply["msg_type"] == "no_such_reply"
    assert reply["content"]["ename"] == "UnknownMessageType"
    info = await kernel.request("kernel_info_request")
    assert info["content"]["status"] == "ok"


async def test_unknown_subshell_is_named_in_the_error(kernel: InProcessKernel) -> None:
    reply = await kernel.request("execute_request", {"code": "1"}, subshell_id="nope")
    assert reply["content"]["ename"] == "UnknownSubshellError"
    assert "'nope'" in reply["content"]["evalue"]


async def test_a_task_cell_runs_while_a_queued_cell_awaits(kernel: InProcessKernel) -> None:
    """`# task` runs at once, beside a queued cell that waits for it."""
    setup = "import anyio\nflag = anyio.Event()"
    await kernel.request("execute_request", {"code": setup})
    waiting = kernel.send("execute_request", {"code": "await flag.wait()\nprint('released')"})
    release = await kernel.request("execute_request", {"code": "# task\nflag.set()"})
    assert release["content"]["status"] == "ok"
    assert (await kernel.reply_to(waiting))["content"]["status"] == "ok"
    assert kernel.stdout(waiting) == "released\n"


async def test_a_subshell_has_its_own_names_over_the_main_ones(kernel: InProcessKernel) -> None:
    created = await kernel.request("create_subshell_request", channel="control")
    subshell_id = created["content"]["subshell_id"]
    await kernel.request("execute_request", {"code": "shared = 1"})
    reply = await kernel.request(
        "execute_request",
        {"code": "own = shared + 1", "user_expressions": {"own": "own"}},
        subshell_id=subshell_id,
    )
    assert reply["content"]["user_expressions"]["own"]["data"]["text/plain"] == "2"
    main = await kernel.request("execute_request", {"code": "'own' in dir()"})
    assert main["content"]["status"] == "ok"
    check = await kernel.request("execute_request", {"code": "own"})
    assert check["content"]["ename"] == "NameError"
    deleted = await kernel.request(
        "delete_subshell_request", {"subshell_id": subshell_id}, channel="control"
    )
    assert deleted["content"]["status"] == "ok"


async def test_a_failing_handler_becomes_an_error_reply(kernel: InProcessKernel) -> None:
    reply = await kernel.request("complete_request", {"code": "x", "cursor_pos": 99})
    assert reply["content"]["status"] == "error"
    assert "cursor_pos" in reply["content"]["evalue"]
    assert (await kernel.request("kernel_info_request"))["content"]["status"] == "ok"
