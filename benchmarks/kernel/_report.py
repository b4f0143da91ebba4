"""The metrics, the targets, and the JSON and markdown reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Metric:
    """One reported figure; ``better`` is "lower" or "higher"."""

    key: str
    label: str
    unit: str
    better: str


METRICS = (
    Metric("startup_s", "start-up to first kernel_info_reply", "s", "lower"),
    Metric("rss_start_mb", "RSS after start", "MiB", "lower"),
    Metric("rss_after_executes_mb", "RSS after the execute runs", "MiB", "lower"),
    Metric("execute_p50_ms", "execute round trip p50 (pass)", "ms", "lower"),
    Metric("execute_p99_ms", "execute round trip p99 (pass)", "ms", "lower"),
    Metric("execute_no_history_p50_ms", "execute p50, store_history false", "ms", "lower"),
    Metric("pipelined_executes_per_s", "pipelined executes", "/s", "higher"),
    Metric("stream_lines_per_s", "iopub stream, printed lines", "lines/s", "higher"),
    Metric("stream_mb_per_s", "iopub stream, text", "MB/s", "higher"),
    Metric("stream_messages", "iopub stream messages for the lines", "msgs", "lower"),
    Metric("stream_complete", "every printed line arrived, in order", "", "higher"),
    Metric("kernel_info_shell_blocking_ms", "kernel_info on shell, cell blocks", "ms", "lower"),
    Metric("kernel_info_control_blocking_ms", "kernel_info on control, cell blocks", "ms", "lower"),
    Metric("kernel_info_shell_awaiting_ms", "kernel_info on shell, cell awaits", "ms", "lower"),
    Metric("kernel_info_control_awaiting_ms", "kernel_info on control, cell awaits", "ms", "lower"),
    Metric("first_error_cell_ms", "first cell that raises (1/0), round trip", "ms", "lower"),
    Metric("interrupt_blocking_ms", "interrupt a blocking cell (time.sleep)", "ms", "lower"),
    Metric("interrupt_awaiting_ms", "interrupt an awaiting cell (asyncio.sleep)", "ms", "lower"),
    Metric("comm_echo_per_s", "comm echo round trips (pipelined)", "/s", "higher"),
    Metric("subshell_speedup", "subshell speed-up, sleeping cells", "x", "higher"),
)

METRIC_KEYS = tuple(metric.key for metric in METRICS)


def ratio(ours: Any, theirs: Any) -> float | None:
    """async-kernel / ipykernel, or None when either is missing or not a number."""
    if isinstance(ours, bool) or isinstance(theirs, bool):
        return None
    if not isinstance(ours, int | float) or not isinstance(theirs, int | float) or not theirs:
        return None
    return ours / theirs


def _format(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value >= 1000:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}"
    return str(value)


def targets(ours: dict[str, Any], theirs: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    """Each target: its description, whether it is met (None: not measured), the figures."""

    def check(value: Any, test: Any) -> bool | None:
        return None if value is None else bool(test(value))

    p50 = ratio(ours.get("execute_p50_ms"), theirs.get("execute_p50_ms"))
    pipe = ratio(ours.get("pipelined_executes_per_s"), theirs.get("pipelined_executes_per_s"))
    lines = ratio(ours.get("stream_lines_per_s"), theirs.get("stream_lines_per_s"))
    info = ours.get("kernel_info_shell_blocking_ms")
    interrupts = [ours.get("interrupt_blocking_ms"), ours.get("interrupt_awaiting_ms")]
    stream_ok = check(lines, lambda r: r >= 1 and ours.get("stream_complete") is True)
    interrupt_ok = (
        None if None in interrupts else all(value < 50 for value in interrupts if value is not None)
    )
    comm = ratio(ours.get("comm_echo_per_s"), theirs.get("comm_echo_per_s"))
    blocking = ratio(ours.get("interrupt_blocking_ms"), theirs.get("interrupt_blocking_ms"))
    startup = ratio(ours.get("startup_s"), theirs.get("startup_s"))
    memory = [
        ratio(ours.get(key), theirs.get(key)) for key in ("rss_start_mb", "rss_after_executes_mb")
    ]
    memory_ok = None if None in memory else all(r <= 1.1 for r in memory if r is not None)
    return [
        ("comm echo >= 4x ipykernel", check(comm, lambda r: r >= 4), f"{_format(comm)}x"),
        (
            "interrupt of a blocking cell <= 1.5x ipykernel's",
            check(blocking, lambda r: r <= 1.5),
            f"{_format(blocking)}x",
        ),
        ("start-up <= 1x ipykernel", check(startup, lambda r: r <= 1), f"{_format(startup)}x"),
        (
            "memory <= 1.1x ipykernel, after start and after the executes",
            memory_ok,
            " / ".join(f"{_format(r)}x" for r in memory),
        ),
        ("execute p50 <= 0.3x ipykernel", check(p50, lambda r: r <= 0.3), f"{_format(p50)}x"),
        ("pipelined executes >= 3x ipykernel", check(pipe, lambda r: r >= 3), f"{_format(pipe)}x"),
        (
            "stream throughput >= 1x, nothing lost",
            stream_ok,
            f"{_format(lines)}x, complete: {_format(ours.get('stream_complete'))}",
        ),
        (
            "kernel_info on shell <= 5 ms while a cell blocks",
            check(info, lambda v: v <= 5),
            f"{_format(info)} ms",
        ),
        (
            "interrupt well under 100 ms (< 50 ms), blocking and awaiting",
            interrupt_ok,
            " / ".join(f"{_format(value)} ms" for value in interrupts),
        ),
    ]


def markdown(results: dict[str, Any]) -> str:
    """The results as a markdown table with ratios, targets and notes."""
    kernels = results["kernels"]
    ours, theirs = kernels["async-kernel"], kernels["ipykernel"]
    meta = results["meta"]
    lines = [
        f"# Kernel benchmark ({meta['mode']}, backend {meta['backend']})",
        "",
        (
            f"{meta['python']} on {meta['platform']}; ipykernel {meta['ipykernel_version']}; "
            f"{meta['executes_before_rss']} executes before the second RSS figure."
        ),
        "",
        "ratio = async-kernel / ipykernel; the last column says which direction is better.",
        "",
        "| metric | async-kernel | ipykernel | ratio | better |",
        "|---|---:|---:|---:|---|",
    ]
    for metric in METRICS:
        label = f"{metric.label} ({metric.unit})" if metric.unit else metric.label
        ours_value, theirs_value = ours.get(metric.key), theirs.get(metric.key)
        value_ratio = ratio(ours_value, theirs_value)
        shown_ratio = "" if value_ratio is None else f"{_format(value_ratio)}x"
        lines.append(
            f"| {label} | {_format(ours_value)} | {_format(theirs_value)} | {shown_ratio} "
            f"| {metric.better} |"
        )
    lines += ["", "## Targets", "", "| target | met | figure |", "|---|---|---|"]
    for description, met, figure in targets(ours, theirs):
        shown = "not measured" if met is None else ("met" if met else "MISSED")
        lines.append(f"| {description} | {shown} | {figure} |")
    for name in ("async-kernel", "ipykernel"):
        notes = results["notes"].get(name) or []
        if notes:
            lines += ["", f"## Notes: {name}", ""]
            lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"
