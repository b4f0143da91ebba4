"""The measurements, each a function of a running kernel and the run's sizes.

Every function returns a dict of metric values (None where the kernel cannot be measured)
and may append a note to ``kernel.notes`` saying why. Each one waits for the ``status: idle``
of what it sent before returning, so the next measurement starts on a quiet kernel.
"""

from __future__ import annotations

import statistics
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._client import Received, WireClient
    from ._kernels import RunningKernel

Values = dict[str, Any]


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does."""

    warmup: int = 50
    latency_samples: int = 300
    pipelined: int = 1000
    stream_lines: int = 100_000
    block_seconds: float = 3.0
    interrupt_seconds: float = 10.0
    comm_messages: int = 2000
    subshells: int = 2
    subshell_seconds: float = 1.0
    timeout: float = 60.0


QUICK = Sizes(
    warmup=5,
    latency_samples=20,
    pipelined=50,
    stream_lines=2000,
    block_seconds=0.5,
    interrupt_seconds=3.0,
    comm_messages=20,
    subshells=2,
    subshell_seconds=0.1,
    timeout=20.0,
)

SETTLE = 0.25
"""Seconds to wait after a cell starts before probing it, so it is inside its sleep."""


def _ms(seconds: float) -> float:
    return seconds * 1000


def _run(client: WireClient, code: str, timeout: float, **kwargs: Any) -> Received:
    """Execute ``code`` and wait for its reply and idle."""
    msg_id = client.execute(code, **kwargs)
    reply = client.reply("shell", msg_id, timeout)
    if reply is None:
        raise TimeoutError(f"no execute_reply within {timeout} s for {code!r}")
    if client.iopub_until_idle(msg_id, timeout) is None:
        raise TimeoutError(f"no status: idle within {timeout} s for {code!r}")
    return reply


def _wait_started(client: WireClient, msg_id: str, timeout: float) -> None:
    """Wait for the execute_input of ``msg_id`` (the cell is about to run), then settle."""
    deadline = time.perf_counter() + timeout
    while True:
        message = client.next("iopub", deadline)
        if message is None:
            raise TimeoutError("the cell did not start")
        if message.parent_id == msg_id and message.msg_type == "execute_input":
            break
    time.sleep(SETTLE)


def _latencies(client: WireClient, sizes: Sizes, store_history: bool) -> list[float]:
    samples: list[float] = []
    for index in range(sizes.warmup + sizes.latency_samples):
        started = time.perf_counter()
        msg_id = client.execute("pass", store_history=store_history)
        reply = client.reply("shell", msg_id, sizes.timeout)
        if reply is None:
            raise TimeoutError("no execute_reply for pass")
        if index >= sizes.warmup:
            samples.append(reply.time - started)
        client.iopub_until_idle(msg_id, sizes.timeout)
    return sorted(samples)


def execute_latency(kernel: RunningKernel, sizes: Sizes) -> Values:
    """Serial ``pass`` round trips: execute_request sent to execute_reply read.

    With ``store_history`` true (what notebook frontends send) and, for the p50 only, false.
    """
    client = kernel.client
    samples = _latencies(client, sizes, store_history=True)
    p99 = samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]
    no_history = _latencies(client, sizes, store_history=False)
    return {
        "execute_p50_ms": _ms(statistics.median(samples)),
        "execute_p99_ms": _ms(p99),
        "execute_no_history_p50_ms": _ms(statistics.median(no_history)),
    }


def _last_reply_time(
    client: WireClient, ids: list[str], started: float, timeout: float, what: str
) -> float:
    """When the last shell reply to ``ids`` arrived (perf_counter), reading them in order."""
    last = started
    for msg_id in ids:
        reply = client.reply("shell", msg_id, timeout)
        if reply is None:
            raise TimeoutError(f"{what} did not all reply")
        last = max(last, reply.time)
    return last


def pipelined(kernel: RunningKernel, sizes: Sizes) -> Values:
    """Send ``pipelined`` executes at once, then collect every reply: replies per second."""
    client = kernel.client
    started = time.perf_counter()
    ids = [client.execute("pass") for _ in range(sizes.pipelined)]
    last = _last_reply_time(client, ids, started, sizes.timeout, "pipelined executes")
    client.iopub_until_idle(ids[-1], sizes.timeout)
    client.drain()
    return {"pipelined_executes_per_s": sizes.pipelined / (last - started)}


def stream(kernel: RunningKernel, sizes: Sizes) -> Values:
    """Print ``stream_lines`` lines; time to the last output and check every line arrived."""
    client = kernel.client
    lines = sizes.stream_lines
    started = time.perf_counter()
    msg_id = client.execute(f"for i in range({lines}):\n    print(i)")
    messages = client.iopub_until_idle(msg_id, sizes.timeout * 5)
    if messages is None:
        raise TimeoutError("the printing cell did not finish")
    client.reply("shell", msg_id, sizes.timeout)
    streams = [m for m in messages if m.msg_type == "stream" and m.content["name"] == "stdout"]
    last = streams[-1].time if streams else messages[-1].time
    text = "".join(m.content["text"] for m in streams)
    expected = "".join(f"{i}\n" for i in range(lines))
    complete = text == expected
    if not complete:
        got = text.splitlines()
        kernel.notes.append(
            f"stream: {len(got)} of {lines} lines arrived before idle"
            + ("" if got == [str(i) for i in range(len(got))] else ", out of order")
        )
    elapsed = last - started
    return {
        "stream_lines_per_s": lines / elapsed,
        "stream_mb_per_s": len(expected.encode()) / elapsed / 1e6,
        "stream_messages": len(streams),
        "stream_complete": complete,
    }


def _await_code(kernel: RunningKernel, backend: str, seconds: float) -> str:
    if kernel.name == "async-kernel" and backend != "asyncio":
        return f"import anyio\nawait anyio.sleep({seconds})"
    return f"import asyncio\nawait asyncio.sleep({seconds})"


def _busy_cells(kernel: RunningKernel, backend: str, seconds: float) -> dict[str, str]:
    """A cell that blocks its thread and one that awaits, each for ``seconds``."""
    return {
        "blocking": f"import time\ntime.sleep({seconds})",
        "awaiting": _await_code(kernel, backend, seconds),
    }


def kernel_info_while_busy(kernel: RunningKernel, sizes: Sizes, backend: str) -> Values:
    """kernel_info round trip on control, then on shell, while a cell blocks or awaits.

    A reply that only comes after the cell's execute_reply is still reported as measured,
    with a note; no reply within the sleep plus a margin is reported as None (timeout).
    """
    client = kernel.client
    values: Values = {}
    seconds = sizes.block_seconds
    cells = _busy_cells(kernel, backend, seconds)
    for mode, code in cells.items():
        msg_id = client.execute(code)
        _wait_started(client, msg_id, sizes.timeout)
        answered: dict[str, float] = {}
        for channel in ("control", "shell"):
            key = f"kernel_info_{channel}_{mode}_ms"
            started = time.perf_counter()
            info_id = client.send(channel, "kernel_info_request", {})
            reply = client.reply(channel, info_id, seconds + 2)
            if reply is None:
                values[key] = None
                kernel.notes.append(f"{key}: no reply within {seconds + 2:g} s (timeout)")
            else:
                values[key] = _ms(reply.time - started)
                answered[key] = reply.time
        done = client.reply("shell", msg_id, sizes.timeout + seconds)
        for key, when in answered.items():
            if done is not None and done.time <= when:
                kernel.notes.append(f"{key}: answered only after the {seconds:g} s cell ended")
        client.iopub_until_idle(msg_id, sizes.timeout + seconds)
        client.drain()
    return values


def interrupts(kernel: RunningKernel, sizes: Sizes, backend: str) -> Values:
    """Interrupt a blocking and an awaiting cell: interrupt sent to error execute_reply read."""
    client = kernel.client
    values: Values = {}
    seconds = sizes.interrupt_seconds
    cells = _busy_cells(kernel, backend, seconds)
    # The first traceback a process formats imports IPython's traceback machinery; time
    # that once on its own so the interrupt figures measure the interrupt path.
    started = time.perf_counter()
    _run(client, "1/0", sizes.timeout)
    values["first_error_cell_ms"] = _ms(time.perf_counter() - started)
    for mode, code in cells.items():
        key = f"interrupt_{mode}_ms"
        msg_id = client.execute(code)
        _wait_started(client, msg_id, sizes.timeout)
        started = time.perf_counter()
        kernel.interrupt()
        reply = client.reply("shell", msg_id, seconds + sizes.timeout)
        if reply is None:
            values[key] = None
            kernel.notes.append(f"{key}: no execute_reply at all")
        else:
            values[key] = _ms(reply.time - started)
            status = reply.content.get("status")
            if status != "error" or reply.time - started >= seconds - SETTLE:
                kernel.notes.append(
                    f"{key}: not interrupted: the reply ({status!r}, "
                    f"{reply.content.get('ename')}) came when the {seconds:g} s sleep ended"
                )
        client.iopub_until_idle(msg_id, sizes.timeout)
        client.drain()
    return values


COMM_SETUP = """
def _bench_comm_setup():
    kernel = getattr(get_ipython(), "kernel", None)
    manager = getattr(kernel, "comm_manager", None)
    if manager is None:
        try:
            from comm import get_comm_manager
            manager = get_comm_manager()
        except Exception as exc:
            return f"no comm manager: {exc!r}"

    def open_echo(comm, open_msg):
        def echo(msg):
            comm.send(msg["content"]["data"])
        comm.on_msg(echo)

    manager.register_target("bench_echo", open_echo)
    return f"{type(manager).__module__}.{type(manager).__qualname__}"

_bench_comm_status = _bench_comm_setup()
"""


def _echoes(client: WireClient, comm_id: str, count: int, timeout: float) -> list[Received]:
    deadline = time.perf_counter() + timeout
    echoes: list[Received] = []
    while len(echoes) < count:
        message = client.next("iopub", deadline)
        if message is None:
            break
        if message.msg_type == "comm_msg" and message.content.get("comm_id") == comm_id:
            echoes.append(message)
    return echoes


def comm_echo(kernel: RunningKernel, sizes: Sizes) -> Values:
    """comm_msg round trips through an echo target registered by a cell: echoes per second."""
    client = kernel.client
    reply = _run(
        client, COMM_SETUP, sizes.timeout, user_expressions={"status": "_bench_comm_status"}
    )
    status = reply.content.get("user_expressions", {}).get("status", {})
    manager = status.get("data", {}).get("text/plain", repr(status))
    comm_id = uuid.uuid4().hex
    client.send("shell", "comm_open", {"comm_id": comm_id, "target_name": "bench_echo", "data": {}})
    client.send("shell", "comm_msg", {"comm_id": comm_id, "data": {"probe": True}})
    if not _echoes(client, comm_id, 1, 3.0):
        kernel.notes.append(f"comm_echo: n/a, no echo from comm target (manager {manager})")
        client.drain()
        return {"comm_echo_per_s": None}
    client.drain()
    started = time.perf_counter()
    for index in range(sizes.comm_messages):
        client.send("shell", "comm_msg", {"comm_id": comm_id, "data": {"i": index}})
    echoes = _echoes(client, comm_id, sizes.comm_messages, sizes.timeout)
    client.send("shell", "comm_close", {"comm_id": comm_id, "data": {}})
    if len(echoes) < sizes.comm_messages:
        kernel.notes.append(f"comm_echo: {len(echoes)} of {sizes.comm_messages} echoes")
        client.drain()
        return {"comm_echo_per_s": None}
    order = [message.content["data"].get("i") for message in echoes]
    if order != list(range(sizes.comm_messages)):
        kernel.notes.append("comm_echo: echoes arrived out of order")
    elapsed = echoes[-1].time - started
    client.drain()
    return {"comm_echo_per_s": sizes.comm_messages / elapsed}


def subshells(kernel: RunningKernel, sizes: Sizes, features: list[str]) -> Values:
    """Sleeping cells on the main shell one after another versus one per subshell at once."""
    if "kernel subshells" not in features:
        kernel.notes.append("subshell_speedup: n/a, no 'kernel subshells' in supported_features")
        return {"subshell_speedup": None}
    client = kernel.client
    created: list[str] = []
    for _ in range(sizes.subshells - 1):
        msg_id = client.send("control", "create_subshell_request", {})
        reply = client.reply("control", msg_id, sizes.timeout)
        if reply is None or "subshell_id" not in reply.content:
            raise RuntimeError(f"create_subshell_request failed: {reply and reply.content}")
        created.append(reply.content["subshell_id"])
    code = f"import time\ntime.sleep({sizes.subshell_seconds})"

    def run_all(targets: list[str | None]) -> float:
        started = time.perf_counter()
        ids = [client.execute(code, subshell_id=target) for target in targets]
        last = _last_reply_time(client, ids, started, sizes.timeout, "subshell cells")
        if not client.until_all_idle(ids, sizes.timeout):
            raise TimeoutError("a subshell cell sent no status: idle")
        return last - started

    try:
        serial = run_all([None] * sizes.subshells)
        parallel = run_all([None, *created])
    finally:
        for subshell_id in created:
            msg_id = client.send("control", "delete_subshell_request", {"subshell_id": subshell_id})
            client.reply("control", msg_id, sizes.timeout)
        client.drain()
    return {"subshell_speedup": serial / parallel}


def kernel_features(kernel: RunningKernel, timeout: float) -> list[str]:
    """The kernel's supported_features from kernel_info_reply."""
    msg_id = kernel.client.send("shell", "kernel_info_request", {})
    reply = kernel.client.reply("shell", msg_id, timeout)
    return list(reply.content.get("supported_features", [])) if reply else []
