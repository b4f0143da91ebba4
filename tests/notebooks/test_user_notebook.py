"""A notebook as a user of async-kernel writes it runs through nbclient on both backends.

Directives (comments and tags, papermill's ``parameters`` among them), magics, utils, a
LocalClient that clicks widgets through comm messages, ``%callers``: every cell must run,
and the cells tagged ``raises-exception`` fail as they should without stopping the run.

nbclient 0.11 does not send a cell's tags with its execute_request: ``run_with_tags.py``
adds them to the request's metadata, as a frontend that sends them does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

NOTEBOOK = Path(__file__).with_name("async_kernel_user.ipynb")
RUNNER = Path(__file__).with_name("run_with_tags.py")


def text_of(cell: Any) -> str:
    """What the executed cell shows, as text."""
    parts: list[str] = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif output["output_type"] in ("execute_result", "display_data"):
            parts.append(output["data"].get("text/plain", ""))
        elif output["output_type"] == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
    return "".join(parts)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_user_notebook_runs_without_errors(tmp_path: Path, backend: str) -> None:
    executed = tmp_path / "executed.ipynb"
    result = subprocess.run(
        [sys.executable, str(RUNNER), str(NOTEBOOK), backend, str(executed), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    notebook = nbformat.read(executed, as_version=4)
    cells = {cell.metadata.get("name"): cell for cell in notebook.cells if cell.cell_type == "code"}
    errors = [
        text_of(cell)
        for cell in notebook.cells
        if cell.cell_type == "code"
        and any(output["output_type"] == "error" for output in cell.get("outputs", []))
    ]
    assert errors == ["ValueError: expected: this cell is tagged raises-exception"]
    assert f"kernel backend: {backend}" in text_of(cells["utils"])
    assert '"shell_port"' in text_of(cells["connect_info"])
    assert text_of(cells["named_thread"]) == "named thread: async-caller:downloads trio\n"
    assert "the run went on" in text_of(cells["after_error"])
    assert text_of(cells["backend_magics"]) == "magics ran on trio and asyncio\n"
    assert text_of(cells["magic_in_function"]) == "a magic inside a function: 45\n"
    callers = text_of(cells["callers"])
    for name in ("Shell", "Control", "downloads", "adder", "worker-asyncio", "worker-trio"):
        assert f"\n{name} " in callers, callers
    assert "widgets: ['clicked'] 7 | subshell: ok" in text_of(cells["widgets"])
    assert text_of(cells["done"]) == f"done on {backend}\n"
