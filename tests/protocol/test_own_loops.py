"""Cells that run an event loop of their own (asyncio.run, anyio.run, trio.run), over the wire.

Each form runs in the main shell, in a subshell and in a ``# thread`` cell, on both kernel
backends. Interrupts reach the inner loop; the kernel answers while it runs.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import pytest

from tests.kernel_fixtures import outputs, stdout_of
from tests.protocol.test_subshells import create_subshell, send_execute

if TYPE_CHECKING:
    from pathlib import Path

    from tests.kernel_fixtures import KernelHarness

SETUP = """\
import asyncio, anyio, trio

async def with_task(tag):
    async def child():
        print('task of', tag)
    await asyncio.gather(child())
    print('inside', tag)
    return tag

async def on_anyio(tag):
    await anyio.sleep(0)
    print('inside', tag)
    return tag

async def on_trio(tag):
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.sleep, 0)
    print('inside', tag)
    return tag
"""

FORMS = {
    "asyncio.run": "asyncio.run(with_task('asyncio.run'))",
    "run_until_complete": (
        "loop = asyncio.new_event_loop()\n"
        "try:\n"
        "    result = loop.run_until_complete(with_task('run_until_complete'))\n"
        "finally:\n"
        "    loop.close()\n"
        "result"
    ),
    "anyio.run": "anyio.run(on_anyio, 'anyio.run')",
    "anyio.run-trio": "anyio.run(on_anyio, 'anyio.run-trio', backend='trio')",
    "trio.run": "trio.run(on_trio, 'trio.run')",
}

WHERE = ["main", "subshell", "thread"]


@pytest.fixture(scope="module")
def prepared(kernel: KernelHarness) -> dict[str, Any]:
    """The module's kernel with the helpers defined and one subshell."""
    reply, _ = kernel.execute(SETUP)
    assert reply["content"]["status"] == "ok", reply["content"]
    return {"kernel": kernel, "subshell": create_subshell(kernel)}


def run_where(
    prepared: dict[str, Any], where: str, code: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    kernel: KernelHarness = prepared["kernel"]
    subshell_id = prepared["subshell"] if where == "subshell" else None
    if where == "thread":
        code = "# thread\n" + code
    msg_id = send_execute(kernel, code, subshell_id)
    return kernel.reply_for(msg_id), kernel.iopub_for(msg_id)


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("form", list(FORMS))
def test_runner_runs_to_completion(prepared: dict[str, Any], form: str, where: str) -> None:
    """The form returns its result into the cell, its output (tasks too) in the cell, no warning."""
    reply, messages = run_where(prepared, where, FORMS[form])
    assert reply["content"]["status"] == "ok", reply["content"]
    assert outputs(messages, "execute_result")[0]["data"]["text/plain"] == repr(form)
    stdout = stdout_of(messages)
    assert f"inside {form}\n" in stdout
    if form in ("asyncio.run", "run_until_complete"):
        assert f"task of {form}\n" in stdout
    stderr = [c["text"] for c in outputs(messages, "stream") if c["name"] == "stderr"]
    assert stderr == []


@pytest.mark.parametrize("where", WHERE)
def test_kernel_loop_is_back_after_the_call(prepared: dict[str, Any], where: str) -> None:
    """After an inner run, the cell's thread has its kernel loop (and Caller) again."""
    code = (
        "import sniffio\n"
        "from async_caller import Caller\n"
        "asyncio.run(asyncio.sleep(0))\n"
        "trio.run(trio.sleep, 0)\n"
        "await anyio.sleep(0)\n"
        "(sniffio.current_async_library(), not Caller.get_current().stopped.done())"
    )
    reply, messages = run_where(prepared, where, code)
    assert reply["content"]["status"] == "ok", reply["content"]
    library, running = eval(outputs(messages, "execute_result")[0]["data"]["text/plain"])
    assert library in ("asyncio", "trio")
    assert running is True


@pytest.mark.parametrize("where", WHERE)
def test_caller_inside_is_the_inner_loops(prepared: dict[str, Any], where: str) -> None:
    """Inside an inner loop the blocked kernel Caller is hidden; one opened there is found."""
    code = (
        "from async_caller import Caller, NoCallerError\n"
        "async def inner():\n"
        "    try:\n"
        "        Caller.get_current()\n"
        "    except NoCallerError:\n"
        "        pass\n"
        "    else:\n"
        "        raise AssertionError('saw the blocked kernel caller')\n"
        "    async with Caller(name='inner') as caller:\n"
        "        return Caller.get_current() is caller\n"
        "asyncio.run(inner())"
    )
    reply, messages = run_where(prepared, where, code)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert outputs(messages, "execute_result")[0]["data"]["text/plain"] == "True"


@pytest.mark.parametrize("kernel", ["asyncio"], indirect=True)
def test_synchronous_cell_uses_the_kernels_loop(kernel: KernelHarness) -> None:
    """get_running_loop, create_task and ensure_future in a cell without await still work."""
    reply, _ = kernel.execute(
        "import asyncio\n"
        "kernel_loop = asyncio.get_running_loop()\n"
        "started = asyncio.create_task(asyncio.sleep(0, 'from create_task'))\n"
        "ensured = asyncio.ensure_future(asyncio.sleep(0, 'from ensure_future'))\n"
        "asyncio.run(asyncio.sleep(0))\n"
        "assert asyncio.get_running_loop() is kernel_loop"
    )
    assert reply["content"]["status"] == "ok", reply["content"]
    reply, messages = kernel.execute("(await started, await ensured)")
    assert reply["content"]["status"] == "ok", reply["content"]
    text = outputs(messages, "execute_result")[0]["data"]["text/plain"]
    assert text == "('from create_task', 'from ensure_future')"


@pytest.mark.parametrize("kernel", ["asyncio"], indirect=True)
def test_kernel_loop_run_until_complete_says_what_to_write(kernel: KernelHarness) -> None:
    """The kernel's own loop cannot run inside itself: the error says what to write instead."""
    reply, _ = kernel.execute(
        "import asyncio\nasyncio.get_event_loop().run_until_complete(asyncio.sleep(0))"
    )
    content = reply["content"]
    assert content["status"] == "error"
    assert content["ename"] == "KernelLoopInUseError"
    assert "await" in content["evalue"]
    assert "asyncio.run(coro)" in content["evalue"]


NOTHING_PATCHED = """\
import asyncio, anyio, trio
from asyncio import base_events, runners
from anyio._core import _eventloop
from trio._core import _run
originals = {
    'asyncio.run': (asyncio.run, runners.run),
    'Runner.run': (runners.Runner.run, runners.Runner.__dict__['run']),
    'run_until_complete': (
        base_events.BaseEventLoop.run_until_complete,
        base_events.BaseEventLoop.__dict__['run_until_complete'],
    ),
    'anyio.run': (anyio.run, _eventloop.run),
    'trio.run': (trio.run, _run.run),
}
[
    name
    for name, (seen, defined) in originals.items()
    if seen is not defined
    or hasattr(seen, '__wrapped__')
    or 'async_kernel' in seen.__code__.co_filename
]
"""


@pytest.mark.parametrize("where", ["main", "thread"])
def test_no_runner_is_patched(prepared: dict[str, Any], where: str) -> None:
    """A library sees asyncio, anyio and trio as they are, in a cell and outside one."""
    reply, messages = run_where(prepared, where, NOTHING_PATCHED)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert outputs(messages, "execute_result")[0]["data"]["text/plain"] == "[]"


LIBRARY = """\
import asyncio

import anyio


async def _fetch(tag):
    await asyncio.sleep(0)
    return tag


def fetch(tag):
    return asyncio.run(_fetch(tag))


def fetch_on_a_new_loop(tag):
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(_fetch(tag))
    finally:
        loop.close()


def fetch_with_anyio(tag):
    return anyio.run(_fetch, tag)
"""


def import_library(prepared: dict[str, Any], where: str, folder: Path) -> str:
    """Write ``LIBRARY`` as a module in ``folder``, import it in the kernel; its name."""
    module = f"sync_library_{where}"
    (folder / f"{module}.py").write_text(LIBRARY)
    code = f"import sys\nsys.path.insert(0, {str(folder)!r})\nimport {module}"
    reply, _ = run_where(prepared, where, code)
    assert reply["content"]["status"] == "ok", reply["content"]
    return module


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12+ runs them (sys.monitoring)")
@pytest.mark.parametrize("kernel", ["asyncio"], indirect=True)  # trio: no asyncio loop to hide
@pytest.mark.parametrize("where", ["main", "subshell"])
def test_runner_inside_a_library_says_how_to_call_it(
    prepared: dict[str, Any], where: str, tmp_path: Path
) -> None:
    """Python 3.11: a library's own asyncio.run is not helped; the error's note says what works."""
    module = import_library(prepared, where, tmp_path)
    reply, messages = run_where(prepared, where, f"{module}.fetch('x')")
    assert reply["content"]["status"] == "error"
    assert "cannot be called from a running event loop" in reply["content"]["evalue"]
    stderr = "".join(c["text"] for c in outputs(messages, "stream") if c["name"] == "stderr")
    assert "await asyncio.to_thread(func, ...)" in stderr
    reply, messages = run_where(
        prepared, where, f"import asyncio\nawait asyncio.to_thread({module}.fetch, 'y')"
    )
    assert reply["content"]["status"] == "ok", reply["content"]
    assert outputs(messages, "execute_result")[0]["data"]["text/plain"] == "'y'"


@pytest.mark.skipif(sys.version_info < (3, 12), reason="needs sys.monitoring (Python 3.12+)")
@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("function", ["fetch", "fetch_on_a_new_loop", "fetch_with_anyio"])
def test_runner_inside_a_library_runs(
    prepared: dict[str, Any], where: str, function: str, tmp_path: Path
) -> None:
    """Python 3.12+: a library's own runner runs too, and the kernel's loop is back after."""
    module = import_library(prepared, where, tmp_path)
    code = (
        "import sniffio\n"
        f"value = {module}.{function}('from the library')\n"
        "(value, sniffio.current_async_library())"
    )
    reply, messages = run_where(prepared, where, code)
    assert reply["content"]["status"] == "ok", reply["content"]
    value, library = eval(outputs(messages, "execute_result")[0]["data"]["text/plain"])
    assert value == "from the library"
    assert library in ("asyncio", "trio")


BLOCKING = {
    "asyncio.run": (
        "import asyncio\n"
        "async def wait():\n"
        "    print('waiting', flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(wait())"
    ),
    "trio.run": (
        "import trio\n"
        "async def wait():\n"
        "    print('waiting', flush=True)\n"
        "    await trio.sleep(60)\n"
        "trio.run(wait)"
    ),
}


if sys.version_info >= (3, 12):  # a runner started inside a library: sys.monitoring
    BLOCKING["library asyncio.run"] = (
        "library = {}\n"
        "exec(compile(\n"
        "    'import asyncio\\n'\n"
        "    'async def wait():\\n'\n"
        "    '    print(\"waiting\", flush=True)\\n'\n"
        "    '    await asyncio.sleep(60)\\n'\n"
        "    'def block():\\n'\n"
        "    '    asyncio.run(wait())\\n',\n"
        "    '<library>', 'exec'), library)\n"
        "library['block']()"
    )


def wait_for_output(kernel: KernelHarness, msg_id: str, text: str) -> None:
    """Read the request's iopub messages until ``text`` is on its stdout (kept unclaimed)."""
    seen: list[dict[str, Any]] = []
    while text not in stdout_of(seen):
        seen.append(kernel._next("iopub", {msg_id}))
    kernel._unclaimed["iopub"][:0] = seen


@pytest.mark.parametrize("where", ["main", "subshell", "thread"])
@pytest.mark.parametrize("form", list(BLOCKING))
def test_interrupt_reaches_the_inner_loop(
    fresh_kernel: KernelHarness, form: str, where: str
) -> None:
    """While an inner loop sleeps, the kernel answers; an interrupt ends it with KeyboardInterrupt."""
    kernel = fresh_kernel
    subshell_id = create_subshell(kernel) if where == "subshell" else None
    code = ("# thread\n" if where == "thread" else "") + BLOCKING[form]
    msg_id = send_execute(kernel, code, subshell_id)
    wait_for_output(kernel, msg_id, "waiting")
    # kernel_info is answered on shell and control while the inner loop runs.
    for channel in ("shell", "control"):
        info = kernel.reply_for(kernel.send(channel, "kernel_info_request", {}), channel)
        assert info["content"]["status"] == "ok"
    kernel.reply_for(kernel.send("control", "interrupt_request", {}), "control")
    reply = kernel.reply_for(msg_id, timeout=10)  # a generous bound: it ends, it does not hang
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    messages = kernel.iopub_for(msg_id)
    assert stdout_of(messages) == "waiting\n"
    # The shell works afterwards, and its loop is the kernel's again.
    after = send_execute(kernel, "import sniffio\nsniffio.current_async_library()", subshell_id)
    reply = kernel.reply_for(after)
    assert reply["content"]["status"] == "ok", reply["content"]


@pytest.mark.parametrize("where", ["main", "subshell"])
def test_nest_asyncio_apply_is_not_needed(prepared: dict[str, Any], where: str) -> None:
    """An old notebook's nest_asyncio.apply() is skipped with a note; asyncio.run still works."""
    pytest.importorskip("nest_asyncio2")
    code = "import nest_asyncio2\nnest_asyncio2.apply()\nasyncio.run(with_task('after apply'))"
    reply, messages = run_where(prepared, where, code)
    assert reply["content"]["status"] == "ok", reply["content"]
    stderr = "".join(c["text"] for c in outputs(messages, "stream") if c["name"] == "stderr")
    assert "nest_asyncio2.apply() is not needed" in stderr
    assert outputs(messages, "execute_result")[0]["data"]["text/plain"] == "'after apply'"


WAIT_FOR_RELEASE = """\
import asyncio, threading
release = threading.Event()

async def until_released():
    print('running', flush=True)
    while not release.is_set():
        await asyncio.sleep(0.01)
    return seen.is_set()

asyncio.run(until_released())
"""


@pytest.mark.parametrize("made_in", ["subshell", "main"])
def test_widgets_while_the_main_shell_runs_its_own_loop(
    prepared: dict[str, Any], made_in: str
) -> None:
    """A subshell's widget answers its comm messages meanwhile; a main-shell widget's wait."""
    from tests.protocol.test_comms_over_subshells import update_via
    from tests.protocol.test_widgets import widget_opens

    kernel: KernelHarness = prepared["kernel"]
    subshell_id = prepared["subshell"]
    reply, _ = kernel.execute("import threading\nseen = threading.Event()")
    assert reply["content"]["status"] == "ok"
    make = (
        "import ipywidgets\n"
        "slider = ipywidgets.IntSlider(value=1)\n"
        "slider.observe(lambda change: seen.set(), 'value')\n"
        "slider"
    )
    msg_id = send_execute(kernel, make, subshell_id if made_in == "subshell" else None)
    assert kernel.reply_for(msg_id)["content"]["status"] == "ok"
    (opened,) = widget_opens(kernel.iopub_for(msg_id), "IntSliderModel")
    cell = send_execute(kernel, WAIT_FOR_RELEASE, None)
    wait_for_output(kernel, cell, "running")
    update = update_via(kernel, subshell_id, opened["comm_id"], value=7)
    if made_in == "subshell":
        kernel.iopub_for(update)  # handled while the main shell's inner loop runs
    release = send_execute(kernel, "release.set()", subshell_id)
    assert kernel.reply_for(release)["content"]["status"] == "ok"
    assert kernel.reply_for(cell)["content"]["status"] == "ok"
    (result,) = outputs(kernel.iopub_for(cell), "execute_result")
    assert result["data"]["text/plain"] == str(made_in == "subshell")
    if made_in == "main":
        kernel.iopub_for(update)  # handled once the call returned
    value = send_execute(kernel, "slider.value", subshell_id if made_in == "subshell" else None)
    assert kernel.reply_for(value)["content"]["status"] == "ok"
    assert outputs(kernel.iopub_for(value), "execute_result")[0]["data"]["text/plain"] == "7"


BUSY = {
    "asyncio.run": (
        "async def busy():\n"
        "    print('busy', flush=True)\n"
        "    while True:\n"
        "        sum(range(100))\n"
        "asyncio.run(busy())"
    ),
    "trio.run": (
        "async def busy():\n"
        "    print('busy', flush=True)\n"
        "    while True:\n"
        "        sum(range(100))\n"
        "trio.run(busy)"
    ),
}


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("form", list(BUSY))
def test_interrupt_reaches_an_inner_loop_that_blocks(
    prepared: dict[str, Any], form: str, where: str
) -> None:
    """An inner loop whose code never yields cannot take the interrupt: its thread gets it."""
    kernel: KernelHarness = prepared["kernel"]
    subshell_id = prepared["subshell"] if where == "subshell" else None
    code = ("# thread\n" if where == "thread" else "") + BUSY[form]
    msg_id = send_execute(kernel, code, subshell_id)
    wait_for_output(kernel, msg_id, "busy")
    kernel.reply_for(kernel.send("control", "interrupt_request", {}), "control")
    reply = kernel.reply_for(msg_id, timeout=20)  # a generous bound: it ends, it does not hang
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    kernel.iopub_for(msg_id)
    reply, _ = run_where(prepared, where, "asyncio.run(asyncio.sleep(0, 'fine'))")
    assert reply["content"]["status"] == "ok", reply["content"]
