"""Every example in the docs runs: scripts as subprocesses, notebook cells through a real kernel.

The pages include examples from ``docs/examples/`` (``--8<--`` snippets), so what a reader sees
is what runs here:

- ``*.py``: a script, run with this interpreter; it must exit 0 and print what ``EXPECTED``
  says. Client scripts (``client/``) start a kernel: they run once with ``async`` and once with
  ``async-trio`` as argument, and find those specs in a temporary ``JUPYTER_PATH`` where the
  CLI installed them, as a user's ``async-kernel install`` would.
- ``*.sh``: a shell script, run with bash and the ``async-kernel`` command on ``PATH``.
- ``*.ipy``: notebook cells, executed on a kernel of each backend listed, one after another as
  a user runs them. ``# %%`` starts a cell; ``# %% [subshell]`` one that runs in a subshell;
  ``[no-wait]`` sends the next cell as soon as this one has started, so it really runs
  alongside the cells after it. Every cell must succeed.

A test of its own checks that each Python block in the pages is an included example or is
marked ``<!-- not-run: why -->`` (see docs/writing-docs.md).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.kernel_fixtures import running_kernel

if TYPE_CHECKING:
    from tests.kernel_fixtures import KernelHarness

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"
BOTH = ("asyncio", "trio")


@dataclass(frozen=True)
class Expect:
    """What an example must print (each string, somewhere in its output)."""

    output: tuple[str, ...]
    backends: tuple[str, ...] = BOTH
    """For cells and client scripts: the kernel backends to run them on."""


EXPECTED: dict[str, Expect] = {
    # The Caller guide
    "caller/new_thread.py": Expect(
        (
            "hello from a plain thread, answered in async-caller:worker",
            "awaited from trio: hello from trio, answered in async-caller:worker",
            "stopped: True",
        )
    ),
    "caller/current_caller.py": Expect(
        (
            "the same one again: True",
            "main thread's: True",
            "found by id: True",
            "get() finds it again: True",
            "child answered: child on trio",
            "children: ['child'] parent: True",
            "child stopped with main: True",
        )
    ),
    "caller/lifecycle.py": Expect(
        (
            "running: True",
            "stopped: True",
            "protected: stop() refused",
            "guarded stopped: True",
        )
    ),
    "caller/cancel.py": Expect(
        (
            "cancelled: the call was cancelled: not needed any more",
            "the task saw its own cancellation: Cancelled",
        )
    ),
    "caller/to_thread.py": Expect(
        (
            "sum: 45",
            "fetched in a worker thread: True",
            "to_thread runs on: asyncio",
            "call_using_backend runs on: trio",
        )
    ),
    "caller/queue_call.py": Expect(
        ("order: [0, 1, 2, 3, 4]", "queue running: True", "queue closed: True")
    ),
    "caller/as_completed.py": Expect(
        (
            "done: fast",
            "done: slow",
            "jobs: 6",
            "done: 1, still running: 1",
            "slow cancelled: True",
        )
    ),
    "caller/pending_group.py": Expect(
        (
            "all done on exit: True",
            "the group raised: job failed",
            "the rest was cancelled: True",
            "timed out: the rest was cancelled",
        )
    ),
    "caller/waiting.py": Expect(
        (
            "still running after the timeout: True",
            "cancelled by the timeout: True",
            "current_pending is the call's own: True",
            "stopped: asked to {'purpose': 'demo'}",
            "wait_sync: 6",
        )
    ),
    "caller/sync_app.py": Expect(("totals: [3, 7, 11]", "background loop stopped: True")),
    "caller/errors.py": Expect(
        (
            "PendingTimeoutError: True",
            "DeadlockError: True",
            "TypeError names wait_sync: True",
            "NoCallerError: True",
        )
    ),
    # The command line
    "cli/specs.sh": Expect(
        (
            "Installed kernel spec 'async-trio' (backend trio)",
            "Installed kernel spec 'short-form' (backend trio)",
            '"OMP_NUM_THREADS": "4"',
            "Removed kernel spec 'big'",
        )
    ),
    "cli/settings.sh": Expect(
        (
            "0.24.0",
            '"--profile=work"',
            '"--quiet=false"',
            '"--InteractiveShell.ast_node_interactivity=all"',
            "--InteractiveShellApp.exec_lines=<list-item-1>...",
        )
    ),
    # Kernels on a cluster: run by tests/cluster/test_distributed_provisioner.py, on both
    # backends and encryption policies, with the provisioner's spec (not here).
    "cluster/distributed.py": Expect(
        ("executed: ok", "interrupted: KeyboardInterrupt", "restarted: ok", "shut down")
    ),
    # Driving the kernel from a client
    "client/ipython_config.py": Expect(
        (
            "result: ['startup/00-first.py', 'exec_lines']",
            "result: 3.141592653589793",
            "result: ':memory:'",
        )
    ),
    "client/busy_kernel.py": Expect(
        (
            "kernel_info while the cell runs: ok",
            "completions while the cell runs: ['sleep']",
            "blocking cell: error KeyboardInterrupt",
            "awaiting cell: error KeyboardInterrupt",
            "signalled cell: error KeyboardInterrupt",
            "the kernel goes on: 2",
        )
    ),
    "client/run_mode_tags.py": Expect(("tagged cell ran in the main thread: False",)),
    "client/zmq_client.py": Expect(
        (
            "kernel: async_kernel",
            "user expression: 45",
            "completions: ['total']",
            "inspect found it: True",
            "the kernel has shut down",
        )
    ),
    "client/directive_tags.py": Expect(
        (
            "slow cell: CellTimeoutError: the cell ran past its timeout of 0.5 s",
            "expected error: ZeroDivisionError",
            "the next cell: ok",
        )
    ),
    "client/subshells.py": Expect(
        (
            "main shell: released by the subshell",
            "subshells: 1",
            "deleted: ok",
            "subshells after delete: 0",
        )
    ),
    "client/own_loop_interrupt.py": Expect(
        (
            "kernel_info while asyncio.run runs: ok",
            "asyncio.run cell: error KeyboardInterrupt",
            "trio.run cell: error KeyboardInterrupt",
            "the kernel goes on: 'again'",
        )
    ),
    "client/comm_echo.py": Expect(("echoed: {'n': 1}", "echoed: {'n': 2}", "closed: True")),
    "client/widget_await.py": Expect(("the cell saw the slider move to 7",)),
    "client/input.py": Expect(("the kernel asks: Your name?", "the cell prints: hello Ada")),
    # Custom kernels
    "custom/echo_kernel.py": Expect(
        (
            "asyncio echo kernel: echo: 1 + 1",
            "asyncio calculator kernel: 1024",
            "trio echo kernel: echo: 1 + 1",
            "trio calculator kernel: 1024",
        )
    ),
    # JupyterLite and Pyodide
    "lite/callable_host.py": Expect(
        ("kernel: async_kernel", "stream: awaited", "result: 42", "kernel stopped")
    ),
    # Notebook cells
    "cells/tour.ipy": Expect(
        (
            "awaited at the top level",
            "task cell: the cell after me ran first",
            "thread cell: in the main thread? False",
        )
    ),
    "cells/background_task.ipy": Expect(("ticker is running: True", "ticker cancelled: True")),
    "cells/subshell_namespaces.ipy": Expect(
        (
            "subshell sees data: [1, 2, 3]",
            "main shell sees mine: False",
            "namespace: shared",
            "main shell sees shared_value: 2",
            "namespace: layered",
        )
    ),
    "cells/trio_nursery.ipy": Expect(
        ("done in the long-lived nursery: [0, 1, 2]",), backends=("trio",)
    ),
    "cells/subshell_parallel.ipy": Expect(("main shell: released by the subshell",)),
    "cells/widgets.ipy": Expect(("observed a change to 5",)),
    "cells/directives.ipy": Expect(
        (
            "named thread: async-caller:downloads on trio",
            "pool thread is main: False",
            "finished within its timeout",
            "queued cell is main: True",
        )
    ),
    "cells/utils.ipy": Expect(
        (
            "a Kernel: True",
            "this cell's request: execute_request",
            "tags: []",
            "in subshell: True",
            "seen from the subshell's context: True",
        )
    ),
    "cells/async_magics.ipy": Expect(
        (
            "line ran in async-caller:worker-",
            "cell ran in async-caller:fetcher",
            "the main shell sees: [1, 2, 3]",
            "asyncio magic: asyncio",
            "trio magic: trio",
            "from a function: 42",
            "name",
            "fetcher",
        )
    ),
    "cells/local_client.ipy": Expect(
        (
            "sent a cell: ok [0, 1, 4, 9, 16]",
            "completions: ['squares']",
            "the notebook has it: [0, 1, 4, 9, 16]",
        )
    ),
    "cells/magics.ipy": Expect(("hello from a shell command", "x = 42", "'x'")),
    "cells/caller.ipy": Expect(
        (
            "the cell's caller is protected: True",
            "in a worker: True",
            "on the other backend: True",
            "group results: [0, 1, 4]",
            "a timeout cancelled it: True",
            "stop refused: CallerProtectedError",
        )
    ),
    "cells/own_loops.ipy": Expect(
        (
            "fetched asyncio.run",
            "'ASYNCIO.RUN'",
            "run_until_complete gave A NEW LOOP",
            "anyio slept on asyncio",
            "anyio slept on trio",
            "trio.run ran three tasks",
            "in a subshell: SUBSHELL",
            "in a thread cell: THREAD",
            "the kernel's loop stays its own:",
        )
    ),
}


def example_files() -> list[str]:
    """Every example file, relative to docs/examples."""
    return sorted(
        path.relative_to(EXAMPLES).as_posix()
        for path in EXAMPLES.rglob("*")
        if path.suffix in (".py", ".ipy", ".sh")
    )


def test_every_example_has_expectations_and_every_expectation_a_file() -> None:
    assert example_files() == sorted(EXPECTED)


# --- scripts ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jupyter_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose Jupyter finds async-kernel specs installed by the CLI."""
    folder = tmp_path_factory.mktemp("docs-jupyter")
    prefix = folder / "prefix"
    for backend in BOTH:
        subprocess.run(
            [sys.executable, "-m", "async_kernel", "install", "--prefix", str(prefix)]
            + ["--backend", backend],
            check=True,
            capture_output=True,
            timeout=60,
        )
    return dict(
        os.environ,
        JUPYTER_PATH=str(prefix / "share" / "jupyter"),
        IPYTHONDIR=str(folder / "ipython"),
        PYTHONUNBUFFERED="1",
    )


def script_runs() -> list[tuple[str, list[str]]]:
    """Each script with its arguments: client scripts once per kernel spec (backend)."""
    runs: list[tuple[str, list[str]]] = []
    for name, expect in EXPECTED.items():
        if name.startswith("cluster/"):
            continue  # needs a provisioner's spec: tests/cluster runs it
        if name.startswith("client/"):
            runs += [(name, [SPEC_NAMES[backend]]) for backend in expect.backends]
        elif name.endswith((".py", ".sh")):
            runs.append((name, []))
    return runs


SPEC_NAMES = {"asyncio": "async", "trio": "async-trio"}
SCRIPT_TIMEOUT = 50
"""Seconds a script may run: under pytest-timeout's 60, so a hang fails with what it printed."""


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")[-3000:]
    return (output or "")[-3000:]


@pytest.mark.parametrize(("name", "arguments"), script_runs())
def test_script_example_runs(name: str, arguments: list[str], jupyter_env: dict[str, str]) -> None:
    interpreter = "bash" if name.endswith(".sh") else sys.executable
    # Shell examples call `async-kernel`, which is next to this interpreter.
    bin_dir = str(Path(sys.executable).parent)
    env = dict(jupyter_env, PATH=os.pathsep.join([bin_dir, jupyter_env.get("PATH", "")]))
    try:
        result = subprocess.run(
            [interpreter, str(EXAMPLES / name), *arguments],
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT,
            check=False,
            env=env,
            cwd=EXAMPLES.parent.parent,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"{name} ran over {SCRIPT_TIMEOUT} s; it printed:\n{_text(exc.stdout)}\n{_text(exc.stderr)}"
        )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for expected in EXPECTED[name].output:
        assert expected in result.stdout, result.stdout[-3000:]


# --- notebook cells ---------------------------------------------------------------------------

_CELL_MARKER = re.compile(r"^# %%(?: \[(?P<options>[a-z, -]+)\])?$")
_CELL_OPTIONS = frozenset({"subshell", "no-wait"})


@dataclass(frozen=True)
class Cell:
    """One cell of an ``.ipy`` example."""

    code: str
    in_subshell: bool
    no_wait: bool
    """Send the next cell once this one has started, not when it has finished."""


def read_cells(path: Path) -> list[Cell]:
    """Split an ``.ipy`` example into its cells."""
    cells: list[Cell] = []
    lines: list[str] | None = None
    options: set[str] = set()
    for line in [*path.read_text().splitlines(), "# %%"]:
        marker = _CELL_MARKER.match(line)
        if marker is None:
            assert lines is not None, f"{path.name}: the file must start with a '# %%' line"
            lines.append(line)
            continue
        if lines is not None:
            code = "\n".join(lines).strip("\n")
            cells.append(Cell(code, "subshell" in options, "no-wait" in options))
        lines = []
        options = set((marker["options"] or "").replace(" ", "").split(",")) - {""}
        assert options <= _CELL_OPTIONS, f"{path.name}: unknown cell options {options}"
    return cells


def text_of(messages: list[dict[str, Any]]) -> str:
    """What a notebook would show for these iopub messages, as text."""
    parts: list[str] = []
    for msg in messages:
        content = msg["content"]
        if msg["msg_type"] == "stream":
            parts.append(content["text"])
        elif msg["msg_type"] in ("execute_result", "display_data"):
            parts.append(content["data"].get("text/plain", "") + "\n")
        elif msg["msg_type"] == "error":
            parts.append("\n".join(content["traceback"]) + "\n")
    return "".join(parts)


def run_cells(kernel: KernelHarness, cells: list[Cell]) -> str:
    """Run the cells in order, as a user would one by one; return all their output."""
    subshell_id = None
    if any(cell.in_subshell for cell in cells):
        reply = kernel.reply_for(kernel.send("control", "create_subshell_request", {}), "control")
        subshell_id = reply["content"]["subshell_id"]
    running: list[tuple[Cell, str]] = []
    shown: list[str] = []

    def finish(cell: Cell, msg_id: str) -> None:
        reply = kernel.reply_for(msg_id)
        output = text_of(kernel.iopub_for(msg_id))
        assert reply["content"]["status"] == "ok", f"cell failed:\n{cell.code}\n{output}"
        shown.append(output)

    for cell in cells:
        content = {"code": cell.code, "silent": False, "store_history": True}
        content |= {"user_expressions": {}, "allow_stdin": False, "stop_on_error": True}
        header = {"subshell_id": subshell_id} if cell.in_subshell else {}
        msg_id = kernel.send("shell", "execute_request", content, **header)
        if cell.no_wait:
            kernel.iopub_for_started(msg_id)
            running.append((cell, msg_id))
        else:
            finish(cell, msg_id)
    for cell, msg_id in running:
        finish(cell, msg_id)
    return "".join(shown)


@pytest.mark.parametrize(
    ("name", "backend"),
    [
        (name, backend)
        for name, expect in EXPECTED.items()
        if name.endswith(".ipy")
        for backend in expect.backends
    ],
)
def test_notebook_example_runs(name: str, backend: str, tmp_path: Path) -> None:
    cells = read_cells(EXAMPLES / name)
    with running_kernel(tmp_path, backend) as kernel:
        output = run_cells(kernel, cells)
    for expected in EXPECTED[name].output:
        assert expected in output, output


# --- code blocks in the pages -----------------------------------------------------------------

_PYTHON_FENCE = re.compile(r"^(?P<indent> *)```(?:python|py|python3|ipython|ipython3|pycon)\b")
_NOT_RUN = re.compile(r"^ *<!-- not-run: \S.* -->$")
_INCLUDE = re.compile(r'^--8<-- "docs/examples/(?P<name>[^"]+)"$')


def python_blocks(page: Path) -> list[tuple[int, bool, list[str]]]:
    """Each Python block of a page: its line number, whether it is marked not-run, its lines."""
    lines = page.read_text().splitlines()
    blocks: list[tuple[int, bool, list[str]]] = []
    index = 0
    while index < len(lines):
        fence = _PYTHON_FENCE.match(lines[index])
        if fence is None:
            index += 1
            continue
        marked = index > 0 and _NOT_RUN.match(lines[index - 1]) is not None
        start, body = index, []
        index += 1
        while index < len(lines) and lines[index].strip() != "```":
            body.append(lines[index].strip())
            index += 1
        blocks.append((start + 1, marked, [line for line in body if line]))
        index += 1
    return blocks


def test_every_python_block_in_the_docs_runs_or_says_why_not() -> None:
    problems: list[str] = []
    included: set[str] = set()
    for page in sorted(DOCS.rglob("*.md")):
        for line, marked, body in python_blocks(page):
            names = [match["name"] for match in map(_INCLUDE.match, body) if match]
            if marked:
                continue
            if not body or len(names) != len(body):
                problems.append(f"{page.relative_to(ROOT)}:{line}: not an included example")
            included.update(names)
    assert not problems, "\n".join(problems)
    assert included <= set(EXPECTED), included - set(EXPECTED)


_ANY_INCLUDE = re.compile(r'^ *--8<-- "docs/examples/(?P<name>[^"]+)"$', re.MULTILINE)


def test_every_example_is_shown_on_a_page() -> None:
    shown = {
        match["name"]
        for page in DOCS.rglob("*.md")
        for match in _ANY_INCLUDE.finditer(page.read_text())
    }
    assert set(EXPECTED) - shown == set()


def test_the_block_checker_catches_an_inline_block(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nprint(1)\n```\n"
        '```python\n--8<-- "docs/examples/caller/cancel.py"\n```\n'
        "<!-- not-run: needs a display -->\n```python\nshow()\n```\n"
    )
    assert python_blocks(page) == [
        (1, False, ["print(1)"]),
        (4, False, ['--8<-- "docs/examples/caller/cancel.py"']),
        (8, True, ["show()"]),
    ]
