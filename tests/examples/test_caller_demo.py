from __future__ import annotations

import runpy
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

DEMO = Path(__file__).resolve().parents[2] / "examples" / "caller_demo.py"


def test_caller_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's examples (kept in examples/caller_demo.py) run and print what they say."""
    runpy.run_path(str(DEMO), run_name="__main__")
    out = capsys.readouterr().out
    assert "hello plain thread from async-caller:worker" in out
    assert "cancelled: the call was cancelled: not needed any more" in out
    assert "to_thread: 45" in out
    assert "call_using_backend: trio" in out
    assert "queue order: [0, 1, 2, 3, 4]" in out
    assert "group: ['hello a from MainThread', 'hello b from MainThread']" in out
