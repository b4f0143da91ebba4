"""Soak async-kernel: many requests of every kind against one kernel, then look for losses and leaks.

    uv run python -m benchmarks.soak [--backend trio] [--scale 0.1]

At scale 1, twice over: 10,000 executes, 100,000 printed lines, 10,000 comm messages, 200
subshells created and deleted, 50 interrupts. Every reply, line and echo is checked; the
kernel's threads, open file descriptors and RSS are compared before and after the second round
(the first one reaches the high-water marks of caches and allocator arenas). Writes ``soak-<backend>.json`` and ``.md`` to the output
folder and exits 1 if anything was lost or leaked.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.kernel._kernels import ASYNC_KERNEL, RunningKernel, start, write_specs

RESULTS = Path(__file__).resolve().parents[1] / "results"
TIMEOUT = 120.0
RSS_GROWTH_LIMIT = 0.10

PROBE = """
import os as _soak_os, threading as _soak_threading
import zmq.utils.garbage as _soak_zmq_gc
if not _soak_zmq_gc.gc.is_alive():  # started lazily by big sends; start it now so that its
    _soak_zmq_gc.gc.start()        # thread and sockets are in every probe, not a leak
def _soak_fd_targets():
    # What each descriptor is (a file's path, or "socket", "eventfd", "anon_inode"...). The
    # listing's own descriptor is gone by the time it is read.
    for _soak_fd in _soak_os.listdir("/proc/self/fd"):
        try:
            target = _soak_os.readlink(f"/proc/self/fd/{_soak_fd}")
        except OSError:
            continue
        if not target.endswith("-journal"):
            yield target.split(":[")[0] if target.startswith(("socket:", "pipe:")) else target
_soak_probe = {
    "threads": sorted(t.name for t in _soak_threading.enumerate()
                      if not t.name.startswith("async-caller-worker")),
    "fd_targets": sorted(_soak_fd_targets()),
    "pool_workers": sum(t.name.startswith("async-caller-worker") for t in _soak_threading.enumerate()),
}
_soak_probe["fds"] = len(_soak_probe["fd_targets"])
"""
"""The kernel's threads and open files. Left out: idle pool workers, which linger by design,
and SQLite's journal, open only while the history thread writes a batch. pyzmq's garbage
collector (a thread and sockets, started once at the first large zero-copy send) is started
by the first probe, so that it counts in every probe."""

ECHO_TARGET = """
import comm as _soak_comm
def _soak_echo(c, msg):
    c.on_msg(lambda m: c.send(m["content"]["data"]))
_soak_comm.get_comm_manager().register_target("soak_echo", _soak_echo)
"""


@dataclass
class Scale:
    """How much of each kind of traffic to send."""

    executes: int = 10_000
    lines: int = 100_000
    comm_messages: int = 10_000
    subshells: int = 200
    interrupts: int = 50

    def times(self, factor: float) -> Scale:
        return Scale(*(max(2, round(value * factor)) for value in asdict(self).values()))


class Soak:
    """Runs each phase against one kernel and records what went wrong."""

    def __init__(self, kernel: RunningKernel) -> None:
        self.kernel = kernel
        self.client = kernel.client
        self.problems: list[str] = []
        self.figures: dict[str, Any] = {}
        self.store_history = False
        """IPython keeps every stored cell for good (``In``, ``_iN``, the source for
        tracebacks): memory that grows by design. Without it, growth means a leak of ours."""

    # --- helpers --------------------------------------------------------------------------

    def run(self, code: str, **options: Any) -> dict[str, Any]:
        msg_id = self.client.execute(code, **options)
        reply = self.client.reply("shell", msg_id, TIMEOUT)
        if reply is None:
            raise TimeoutError(f"no reply to {code[:40]!r}")
        self.client.iopub_until_idle(msg_id, TIMEOUT)
        return reply.content

    def probe(self) -> dict[str, Any]:
        content = self.run(PROBE, user_expressions={"probe": "_soak_probe"})
        text = content["user_expressions"]["probe"]["data"]["text/plain"]
        return ast.literal_eval(text)

    def problem(self, text: str) -> None:
        self.problems.append(text)

    # --- phases ---------------------------------------------------------------------------

    def executes(self, count: int) -> None:
        client = self.client
        started = time.perf_counter()
        batch = 500
        counts: list[int] = []
        for first in range(0, count, batch):
            ids = [
                client.execute("pass", store_history=self.store_history)
                for _ in range(min(batch, count - first))
            ]
            for msg_id in ids:
                reply = client.reply("shell", msg_id, TIMEOUT)
                if reply is None or reply.content.get("status") != "ok":
                    self.problem(f"execute {msg_id}: {reply and reply.content}")
                    continue
                counts.append(reply.content["execution_count"])
            if not client.until_all_idle(ids, TIMEOUT):
                self.problem("executes: a status idle is missing")
        expected_step = 1 if self.store_history else 0
        steps = {later - earlier for earlier, later in itertools.pairwise(counts)}
        if not counts or steps - {expected_step}:
            self.problem(f"executes: execution counts step by {sorted(steps)}")
        self.figures["executes_per_s"] = count / (time.perf_counter() - started)

    def printed_lines(self, count: int) -> None:
        client = self.client
        started = time.perf_counter()
        msg_id = client.execute(f"for i in range({count}):\n    print(i)")
        messages = client.iopub_until_idle(msg_id, TIMEOUT)
        reply = client.reply("shell", msg_id, TIMEOUT)
        if messages is None or reply is None:
            self.problem("printed lines: no idle or reply")
            return
        text = "".join(
            m.content["text"]
            for m in messages
            if m.msg_type == "stream" and m.content.get("name") == "stdout"
        )
        if text != "".join(f"{i}\n" for i in range(count)):
            self.problem(f"printed lines: {text.count(chr(10))} of {count} lines, or out of order")
        self.figures["lines_per_s"] = count / (time.perf_counter() - started)

    def comm_messages(self, count: int) -> None:
        client = self.client
        self.run(ECHO_TARGET)
        comm_id = uuid.uuid4().hex
        client.send(
            "shell", "comm_open", {"comm_id": comm_id, "target_name": "soak_echo", "data": {}}
        )
        started = time.perf_counter()
        for index in range(count):
            client.send("shell", "comm_msg", {"comm_id": comm_id, "data": {"i": index}})
        deadline = time.perf_counter() + TIMEOUT
        order: list[int] = []
        while len(order) < count:
            message = client.next("iopub", deadline)
            if message is None:
                break
            if message.msg_type == "comm_msg" and message.content.get("comm_id") == comm_id:
                order.append(message.content["data"]["i"])
        if order != list(range(count)):
            self.problem(f"comm messages: {len(order)} of {count} echoes, or out of order")
        self.figures["comm_messages_per_s"] = count / (time.perf_counter() - started)
        client.send("shell", "comm_close", {"comm_id": comm_id, "data": {}})
        client.drain()

    def subshells(self, count: int) -> None:
        client = self.client
        started = time.perf_counter()
        for index in range(count):
            reply = client.reply(
                "control", client.send("control", "create_subshell_request", {}), TIMEOUT
            )
            if reply is None or reply.content.get("status") != "ok":
                self.problem(f"create subshell {index}: {reply and reply.content}")
                continue
            subshell_id = reply.content["subshell_id"]
            if index % 10 == 0:
                msg_id = client.execute(f"{index} + 1", subshell_id=subshell_id)
                answer = client.reply("shell", msg_id, TIMEOUT)
                if answer is None or answer.content.get("status") != "ok":
                    self.problem(f"execute in subshell {index}: {answer and answer.content}")
                client.iopub_until_idle(msg_id, TIMEOUT)
            deleted = client.reply(
                "control",
                client.send("control", "delete_subshell_request", {"subshell_id": subshell_id}),
                TIMEOUT,
            )
            if deleted is None or deleted.content.get("status") != "ok":
                self.problem(f"delete subshell {index}: {deleted and deleted.content}")
        self.figures["subshells_per_s"] = count / (time.perf_counter() - started)

    def interrupts(self, count: int) -> None:
        client = self.client
        cells = ("import time\ntime.sleep(30)", "import anyio\nawait anyio.sleep(30)")
        for index in range(count):
            msg_id = client.execute(cells[index % 2])
            deadline = time.perf_counter() + TIMEOUT
            while True:  # interrupt once the cell has started
                message = client.next("iopub", deadline)
                if message is None or (
                    message.parent_id == msg_id and message.msg_type == "execute_input"
                ):
                    break
            client.reply("control", client.send("control", "interrupt_request", {}), TIMEOUT)
            reply = client.reply("shell", msg_id, TIMEOUT)
            if reply is None or reply.content.get("ename") != "KeyboardInterrupt":
                self.problem(f"interrupt {index}: {reply and reply.content}")
            client.iopub_until_idle(msg_id, TIMEOUT)
        if self.run("'after interrupts'").get("status") != "ok":
            self.problem("the kernel did not run a cell after the interrupts")


def soak(kernel: RunningKernel, scale: Scale) -> dict[str, Any]:
    """Run every phase; return figures, the before/after probes and the problems found."""
    runner = Soak(kernel)
    phases = {
        "executes": lambda: runner.executes(scale.executes),
        "printed_lines": lambda: runner.printed_lines(scale.lines),
        "comm_messages": lambda: runner.comm_messages(scale.comm_messages),
        "subshells": lambda: runner.subshells(scale.subshells),
        "interrupts": lambda: runner.interrupts(scale.interrupts),
    }
    # Two rounds: the first reaches the high-water marks (imports, caches, allocator arenas
    # sized by the largest burst); growth during the second is what would keep growing.
    probes = []
    for round_number in (1, 2):
        probes.append((runner.probe(), kernel.rss_mb()))
        for name, phase in phases.items():
            print(f"  round {round_number}: {name}", file=sys.stderr, flush=True)
            phase()
    (before, rss_before), (after, rss_after) = probes[1], (runner.probe(), kernel.rss_mb())
    for _ in range(5):
        # A thread-mode handler replies from its worker's own event loop, which closes just
        # after: its descriptors can still be open at the probe. A leak stays; they do not.
        if after["fds"] <= before["fds"] and after["threads"] == before["threads"]:
            break
        time.sleep(0.2)
        after = runner.probe()
    runner.figures["rss_mib_at_start"] = probes[0][1]
    if after["threads"] != before["threads"]:
        runner.problem(f"threads: {before['threads']} became {after['threads']}")
    if after["fds"] > before["fds"]:
        grown = sorted(set(after["fd_targets"]) - set(before["fd_targets"])) or [
            name
            for name in set(after["fd_targets"])
            if after["fd_targets"].count(name) > before["fd_targets"].count(name)
        ]
        runner.problem(
            f"file descriptors: {before['fds']} became {after['fds']} (more of: {grown}; idle "
            f"pool workers: {before['pool_workers']} then {after['pool_workers']})"
        )
    growth = None
    if rss_before and rss_after:
        growth = rss_after / rss_before - 1
        # Small runs measure allocator noise, not leaks: only judge RSS on real amounts.
        if growth > RSS_GROWTH_LIMIT and scale.executes >= Scale().executes // 2:
            runner.problem(f"RSS grew {growth:.1%} ({rss_before:.1f} -> {rss_after:.1f} MiB)")
    return {
        "scale": asdict(scale),
        "figures": runner.figures,
        "threads": {"before": before["threads"], "after": after["threads"]},
        "fds": {"before": before["fds"], "after": after["fds"]},
        "rss_mib": {"before": rss_before, "after": rss_after, "growth": growth},
        "problems": runner.problems,
    }


def markdown(backend: str, result: dict[str, Any]) -> str:
    scale, figures, rss = result["scale"], result["figures"], result["rss_mib"]
    growth = "n/a" if rss["growth"] is None else f"{rss['growth']:+.1%}"
    rows = [
        ("executes", scale["executes"], figures.get("executes_per_s")),
        ("printed lines", scale["lines"], figures.get("lines_per_s")),
        ("comm messages", scale["comm_messages"], figures.get("comm_messages_per_s")),
        ("subshells created and deleted", scale["subshells"], figures.get("subshells_per_s")),
        ("interrupts", scale["interrupts"], None),
    ]
    threads = f"{len(result['threads']['before'])} -> {len(result['threads']['after'])}"
    fds = f"{result['fds']['before']} -> {result['fds']['after']}"
    problems = "; ".join(result["problems"]) or "none"
    memory = f"RSS {rss['before']:.1f} -> {rss['after']:.1f} MiB ({growth}; judged at scale >= 0.5)"
    return "\n".join(
        [
            f"# Soak, async-kernel on {backend}",
            "",
            "| traffic | amount | rate |",
            "|---|---|---|",
            *(
                f"| {name} | {amount:,} | {'' if rate is None else f'{rate:,.1f}/s'} |"
                for name, amount, rate in rows
            ),
            "",
            f"Threads {threads}, file descriptors {fds}, {memory}.",
            "",
            f"Problems: {problems}",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    parser.add_argument("--backend", default="asyncio", help="async-kernel's backend")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every amount")
    parser.add_argument("--output", type=Path, default=RESULTS, help="folder for the reports")
    args = parser.parse_args(argv)
    scale = Scale().times(args.scale)
    with tempfile.TemporaryDirectory(prefix="soak-") as folder:
        specs = write_specs(Path(folder), args.backend)
        kernel = start(ASYNC_KERNEL, Path(folder), specs)
        try:
            result = soak(kernel, scale)
        finally:
            kernel.stop()
    output: Path = args.output
    output.mkdir(parents=True, exist_ok=True)
    (output / f"soak-{args.backend}.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(args.backend, result)
    (output / f"soak-{args.backend}.md").write_text(table)
    print(table)
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
