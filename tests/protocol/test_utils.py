"""async_kernel.utils over the wire: what a cell learns about its kernel, request and subshell."""

from __future__ import annotations

import ast

import pytest

from tests.kernel_fixtures import KernelHarness, stdout_of
from tests.protocol.test_directives import run_cell


def result_of(kernel: KernelHarness, code: str, **header: str) -> object:
    """Run ``code`` (its last line prints a repr) and return the printed value."""
    msg_id = kernel.send(
        "shell",
        "execute_request",
        {"code": code, "silent": False, "store_history": True, "user_expressions": {}},
        **header,
    )
    reply = kernel.reply_for(msg_id)["content"]
    output = stdout_of(kernel.iopub_for(msg_id))
    assert reply["status"] == "ok", reply
    return ast.literal_eval(output.strip().splitlines()[-1])


@pytest.mark.callable_interface
def test_package_root_exports_kernel_and_utils(kernel: KernelHarness) -> None:
    code = (
        "from async_kernel import Kernel, utils\n"
        "import async_kernel\n"
        "print(repr((type(utils.get_kernel()) is Kernel, utils is async_kernel.utils,"
        " 'Kernel' in async_kernel.__all__ and 'utils' in async_kernel.__all__)))"
    )
    assert result_of(kernel, code) == (True, True, True)


@pytest.mark.callable_interface
def test_parent_message_tags_and_metadata_are_the_cells(kernel: KernelHarness) -> None:
    code = (
        "from async_kernel import utils\n"
        "parent = utils.get_parent_message()\n"
        "print(repr((parent['msg_type'], parent['content']['code'][:4], utils.get_tags(),"
        " utils.get_metadata()['cellId'])))"
    )
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}}
    msg = kernel.client.session.msg(
        "execute_request", content, metadata={"tags": ["parameters", "slow"], "cellId": "c-1"}
    )
    kernel.client.shell_channel.send(msg)
    msg_id = msg["header"]["msg_id"]
    assert kernel.reply_for(msg_id)["content"]["status"] == "ok"
    printed = stdout_of(kernel.iopub_for(msg_id)).strip()
    assert ast.literal_eval(printed) == ("execute_request", "from", ["parameters", "slow"], "c-1")


def test_a_thread_the_cell_starts_sees_the_cells_request(kernel: KernelHarness) -> None:
    code = (
        "import threading\nfrom async_kernel import utils\nseen = []\n"
        "t = threading.Thread(target=lambda: seen.append(utils.get_parent_message()['msg_id']))\n"
        "t.start(); t.join()\n"
        "print(repr(seen[0] == utils.get_parent_message()['msg_id']))"
    )
    assert result_of(kernel, code) is True


def test_subshell_id_and_subshell_context(kernel: KernelHarness) -> None:
    reply = kernel.reply_for(kernel.send("control", "create_subshell_request", {}), "control")
    subshell_id = reply["content"]["subshell_id"]
    in_subshell = "from async_kernel import utils\nprint(repr(utils.get_subshell_id()))"
    assert result_of(kernel, in_subshell, subshell_id=subshell_id) == subshell_id
    assert result_of(kernel, in_subshell) is None
    # From the main shell, put a name into the subshell's own namespace.
    code = (
        "from async_kernel import utils\n"
        f"with utils.subshell_context({subshell_id!r}):\n"
        "    get_ipython().user_ns['put_there'] = utils.get_subshell_id()\n"
        "print(repr(('put_there' in get_ipython().user_ns, utils.get_subshell_id())))"
    )
    assert result_of(kernel, code) == (False, None)
    assert result_of(kernel, "print(repr(put_there))", subshell_id=subshell_id) == subshell_id
    reply, _ = run_cell(
        kernel, "from async_kernel import utils\nutils.subshell_context('nope').__enter__()"
    )
    assert reply["ename"] == "UnknownSubshellError"
    kernel.reply_for(
        kernel.send("control", "delete_subshell_request", {"subshell_id": subshell_id}), "control"
    )


def test_get_kernel_outside_a_kernel_says_so() -> None:
    from async_kernel import utils

    with pytest.raises(utils.NoKernelError, match="no async-kernel runs in this process"):
        utils.get_kernel()
    assert utils.get_parent_message() is None
    assert utils.get_tags() == []
