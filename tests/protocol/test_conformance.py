"""The kernel passes jupyter_kernel_test's conformance suite, with every sample filled in.

``jupyter_kernel_test.KernelTests`` starts a kernel by name through jupyter_client and checks
each reply and iopub message against the message spec's JSON schemas. One subclass per entry
of ``BACKENDS`` is generated at the bottom of this module, so a new backend is one more string.
Each class gets its own temporary Jupyter path (holding the ``test`` spec from
``write_spec``) and IPython directory, so parallel runs never share a kernel or a history file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, ClassVar
from unittest import mock

import jupyter_kernel_test
from jupyter_kernel_test.msgspec_v5 import msg_structure_validator, validate_message

from tests.kernel_fixtures import TIMEOUT, running_kernel, write_spec

BACKENDS = ["asyncio", "trio"]


class KernelConformance(jupyter_kernel_test.KernelTests):
    """The suite's samples for async-kernel; subclassed once per backend below."""

    __test__ = False
    backend: ClassVar[str] = "asyncio"
    _folder: ClassVar[tempfile.TemporaryDirectory[str]]

    kernel_name = "test"
    language_name = "python"
    file_extension = ".py"

    # The suite declares its samples as plain class attributes, so ClassVar (RUF012's advice)
    # would clash with pyright's override check.
    code_hello_world = "print('hello, world')"
    code_stderr = "import sys; print('to stderr', file=sys.stderr)"
    completion_samples = [  # noqa: RUF012
        {"text": "zi", "matches": {"zip"}},
        {"text": "import collections.abc; collections.abc.Awaitab", "matches": {"Awaitable"}},
    ]
    complete_code_samples = ["1", "print('hello, world')", "def f(): pass"]  # noqa: RUF012
    incomplete_code_samples = ["print('''hello", "def f():", "for x in y:"]  # noqa: RUF012
    invalid_code_samples = ["import = 7q", "print(]", "1 +* 2"]  # noqa: RUF012
    code_page_something = "len?"
    code_generate_error = "raise ValueError('this cell fails on purpose')"
    code_execute_result = [  # noqa: RUF012
        {"code": "6 * 7", "result": "42"},
        {"code": "'ab' * 2", "result": "'abab'"},
        {"code": "from IPython.display import HTML\nHTML('<b>bold</b>')", "mime": "text/html"},
    ]
    code_display_data = [  # noqa: RUF012
        {"code": "from IPython.display import display\ndisplay(7)", "mime": "text/plain"},
        {
            "code": "from IPython.display import HTML, display\ndisplay(HTML('<i>hi</i>'))",
            "mime": "text/html",
        },
    ]
    # A glob over the raw source that matches exactly one of code_execute_result's codes.
    code_history_pattern = "6 ? 7"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "zip"
    code_clear_output = "from IPython.display import clear_output\nclear_output()"

    @classmethod
    def setUpClass(cls) -> None:
        """Start the kernel with a temporary Jupyter path and IPython directory."""
        cls._folder = tempfile.TemporaryDirectory(prefix=f"conformance-{cls.backend}-")
        folder = Path(cls._folder.name)
        write_spec(folder, cls.backend)
        env = {"JUPYTER_PATH": str(folder), "IPYTHONDIR": str(folder / "ipython")}
        try:
            # The kernel process inherits the environment when it starts; restore it after.
            with mock.patch.dict(os.environ, env):
                super().setUpClass()
        except BaseException:
            cls._folder.cleanup()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        """Shut the kernel down and remove its folder."""
        try:
            super().tearDownClass()
        finally:
            cls._folder.cleanup()

    def test_history_tail_and_search(self) -> None:
        """Tail and glob search (plain, unique, last n) find what the cells ran."""
        codes = ["6 * 7"] * 3
        reply = self.history_helper(codes, output=False, raw=True, hist_access_type="tail", n=1)
        ((session, line, source),) = reply["content"]["history"]
        assert session >= 1
        assert line >= 3
        assert source == "6 * 7"
        search = {"output": False, "raw": True, "hist_access_type": "search", "pattern": "6 ? 7"}
        reply = self.history_helper([], **search, unique=True)
        assert [entry[2] for entry in reply["content"]["history"]] == ["6 * 7"]
        reply = self.history_helper([], **search, n=3)
        assert [entry[2] for entry in reply["content"]["history"]] == codes

    # --- message shapes the suite does not cover ------------------------------------------

    def shell_reply(self, msg_id: str) -> dict[str, Any]:
        """The shell reply to ``msg_id``."""
        while True:
            reply = self.kc.get_shell_msg(timeout=TIMEOUT)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    def test_is_complete_gives_indent_for_incomplete_code(self) -> None:
        """An incomplete block's reply carries the indent of its next line."""
        self.flush_channels()
        msg_id = self.kc.is_complete("for x in range(3):")
        reply = self.shell_reply(msg_id)
        validate_message(reply, "is_complete_reply", msg_id)
        assert reply["content"] == {"status": "incomplete", "indent": "    "}

    def test_inspect_unknown_name_is_not_found(self) -> None:
        """Inspecting an undefined name is an ok reply with found false and no data."""
        self.flush_channels()
        msg_id = self.kc.inspect("no_such_name_anywhere")
        reply = self.shell_reply(msg_id)
        validate_message(reply, "inspect_reply", msg_id)
        assert reply["content"]["status"] == "ok"
        assert not reply["content"]["found"]

    def test_update_display_data_has_a_valid_shape(self) -> None:
        """display_data and update_display_data of one handle validate and share its id."""
        self.flush_channels()
        code = (
            "from IPython.display import display\n"
            "handle = display('before', display_id=True)\n"
            "handle.update('after')"
        )
        reply, messages = self.execute_helper(code)  # validates every message
        assert reply["content"]["status"] == "ok"
        types = [m["msg_type"] for m in messages]
        assert types == ["display_data", "update_display_data"]
        ids = {m["content"]["transient"]["display_id"] for m in messages}
        assert len(ids) == 1

    def test_input_request_has_a_valid_shape(self) -> None:
        """input() sends a valid input_request on stdin and returns the reply's value."""
        self.flush_channels()
        msg_id = self.kc.execute("answer = input('name? ')\nprint(answer)", allow_stdin=True)
        request = self.kc.get_stdin_msg(timeout=TIMEOUT)
        # Not validate_message: its schema wants a number for `password`, the spec a bool.
        msg_structure_validator.validate(request)
        assert request["msg_type"] == "input_request"
        assert request["parent_header"]["msg_id"] == msg_id
        assert request["content"] == {"prompt": "name? ", "password": False}
        # As JupyterLab does: the reply's parent is the input_request.
        answer = self.kc.session.msg("input_reply", {"value": "Ada"}, parent=request["header"])
        self.kc.stdin_channel.send(answer)
        reply = self.shell_reply(msg_id)
        validate_message(reply, "execute_reply", msg_id)
        assert reply["content"]["status"] == "ok"

    def test_interrupt_reply_has_a_valid_shape(self) -> None:
        """interrupt_request on control gets a valid interrupt_reply, also when idle."""
        msg = self.kc.session.msg("interrupt_request", {})
        self.kc.control_channel.send(msg)
        reply = self.kc.get_control_msg(timeout=TIMEOUT)
        validate_message(reply, "interrupt_reply", msg["header"]["msg_id"])

    def test_comm_info_reply_has_a_valid_shape(self) -> None:
        """comm_info_request gets an ok comm_info_reply listing the open comms."""
        self.flush_channels()
        msg_id = self.kc.comm_info()
        reply = self.shell_reply(msg_id)
        validate_message(reply, "comm_info_reply", msg_id)
        assert reply["content"]["status"] == "ok"
        assert reply["content"]["comms"] == {}


def test_shutdown_reply_has_a_valid_shape(tmp_path: Path) -> None:
    """shutdown_request on control gets a valid shutdown_reply that echoes ``restart``."""
    with running_kernel(tmp_path) as kernel:
        msg_id = kernel.send("control", "shutdown_request", {"restart": False})
        reply = kernel.reply_for(msg_id, "control")
        validate_message(reply, "shutdown_reply", msg_id)
        assert reply["content"] == {"status": "ok", "restart": False}


def test_input_reply_from_client_input_reaches_the_cell(tmp_path: Path) -> None:
    """jupyter_client's ``client.input()`` (no parent header) answers the waiting input()."""
    with running_kernel(tmp_path) as kernel:
        msg_id = kernel.client.execute("print(input())", allow_stdin=True)
        kernel.client.get_stdin_msg(timeout=TIMEOUT)
        kernel.client.input("typed")
        try:
            # wait_for_ready may have left extra kernel_info replies: wait for this request's.
            reply = kernel.reply_for(msg_id)
        finally:
            kernel.send("control", "interrupt_request", {})
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["status"] == "ok"


for _backend in BACKENDS:
    _name = f"TestConformance{_backend.capitalize()}"
    globals()[_name] = type(
        _name,
        (KernelConformance,),
        {"__test__": True, "backend": _backend, "__module__": __name__, "__qualname__": _name},
    )
