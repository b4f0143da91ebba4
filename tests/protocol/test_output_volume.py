"""High output volume: every printed line reaches the frontend, complete and in order."""

from __future__ import annotations

from tests.kernel_fixtures import KernelHarness, outputs, stdout_of

LINES = 100_000
EXPECTED = "".join(f"{number}\n" for number in range(LINES))


def test_many_printed_lines_arrive_complete_and_in_order(kernel: KernelHarness) -> None:
    reply, messages = kernel.execute(f"for number in range({LINES}):\n    print(number)")
    assert reply["content"]["status"] == "ok"
    assert stdout_of(messages) == EXPECTED


def test_one_huge_write_arrives_whole(kernel: KernelHarness) -> None:
    code = f"import sys\nsys.stdout.write(''.join(f'{{n}}\\n' for n in range({LINES})))"
    reply, messages = kernel.execute(code)
    assert reply["content"]["status"] == "ok"
    assert stdout_of(messages) == EXPECTED


def test_lines_printed_by_a_thread_keep_the_cell_as_parent(kernel: KernelHarness) -> None:
    code = (
        "import threading\n"
        "def emit():\n"
        f"    for number in range({LINES}):\n"
        "        print(number)\n"
        "worker = threading.Thread(target=emit)\n"
        "worker.start()\n"
        "worker.join()\n"
    )
    reply, messages = kernel.execute(code)
    assert reply["content"]["status"] == "ok"
    assert stdout_of(messages) == EXPECTED


def test_stdout_and_stderr_each_stay_in_order(kernel: KernelHarness) -> None:
    code = (
        "import sys\n"
        f"for number in range({LINES // 2}):\n"
        "    print(number)\n"
        "    print(number, file=sys.stderr)\n"
    )
    reply, messages = kernel.execute(code)
    assert reply["content"]["status"] == "ok"
    half = "".join(f"{number}\n" for number in range(LINES // 2))
    assert stdout_of(messages) == half
    stderr = "".join(c["text"] for c in outputs(messages, "stream") if c["name"] == "stderr")
    assert stderr == half


def test_lines_flushed_one_by_one_arrive_complete_and_in_order(kernel: KernelHarness) -> None:
    # One stream message per line: 10,000 keeps the test quick and still queues many messages.
    lines = 10_000
    code = f"for number in range({lines}):\n    print(number, flush=True)"
    reply, messages = kernel.execute(code)
    assert reply["content"]["status"] == "ok"
    assert stdout_of(messages) == "".join(f"{number}\n" for number in range(lines))
