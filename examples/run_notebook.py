"""Run a notebook on async-kernel and print every cell with its outputs, as text.

    uv run python examples/run_notebook.py examples/quickstart.ipynb [--backend trio]

The kernel is this interpreter's ``python -m async_kernel``, started through a kernel spec
written to a temporary folder, so nothing needs to be installed for Jupyter first. Cells run
one after another through nbclient; the notebook file is not changed. The exit status is 0
when every cell ran without error, 1 when one failed (its traceback is printed) and 2 when
the notebook cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

SPEC_NAME = "async-kernel-example"
RULE = "-" * 72


def write_kernel_spec(folder: Path, backend: str) -> KernelSpecManager:
    """Write a spec that starts this interpreter's async_kernel; return a manager for it."""
    spec_dir = folder / "kernels" / SPEC_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [
            sys.executable,
            "-m",
            "async_kernel",
            "-f",
            "{connection_file}",
            "--backend",
            backend,
        ],
        "display_name": f"Python 3 (async, {backend})",
        "language": "python",
        "interrupt_mode": "message",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(folder / "kernels")])


def run_notebook(
    notebook: nbformat.NotebookNode, *, backend: str = "asyncio", timeout: int = 60
) -> CellExecutionError | None:
    """Execute ``notebook`` in place on async-kernel; return the error that stopped it, if any."""
    with tempfile.TemporaryDirectory(prefix="async-kernel-example-") as folder:
        manager = KernelManager(
            kernel_name=SPEC_NAME, kernel_spec_manager=write_kernel_spec(Path(folder), backend)
        )
        client = NotebookClient(notebook, km=manager, timeout=timeout)
        try:
            client.execute()
        except CellExecutionError as error:
            return error
        finally:
            # nbclient leaves a kernel manager it was given running.
            if manager.has_kernel:
                manager.shutdown_kernel()
    return None


def output_text(output: dict[str, Any]) -> str:
    """The text a terminal can show for one notebook output."""
    kind = output["output_type"]
    if kind == "stream":
        return output["text"]
    if kind == "error":
        return "\n".join(output["traceback"]) + "\n"
    data = output.get("data", {})
    text = data.get("text/markdown") or data.get("text/plain") or ""
    others = sorted(set(data) - {"text/plain", "text/markdown"})
    if others:
        text += f"  [also: {', '.join(others)}]"
    if kind == "execute_result":
        text = f"Out[{output['execution_count']}]: {text}"
    return text + "\n"


def render(notebook: nbformat.NotebookNode) -> str:
    """Every cell's source and the text of its outputs, in order."""
    parts: list[str] = []
    for cell in notebook.cells:
        if cell.cell_type == "code":
            count = cell.get("execution_count") or " "
            parts.append(f"{RULE}\nIn [{count}]:\n{cell.source}\n")
            if cell.outputs:
                parts.append("\n")
            parts.extend(output_text(output) for output in cell.outputs)
        else:
            parts.append(f"{RULE}\n{cell.source}\n")
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    """Run the notebook named on the command line and print it."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("notebook", type=Path, help="the .ipynb file to run")
    parser.add_argument("--backend", default="asyncio", help="asyncio (default) or trio")
    parser.add_argument("--timeout", type=int, default=60, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    try:
        notebook = nbformat.read(args.notebook, as_version=4)
    except (OSError, ValueError) as error:
        print(f"run_notebook: cannot read {args.notebook}: {error}", file=sys.stderr)
        return 2
    error = run_notebook(notebook, backend=args.backend, timeout=args.timeout)
    sys.stdout.write(render(notebook))
    if error is not None:
        print(f"{RULE}\nrun_notebook: a cell failed: {error.ename}: {error.evalue}")
        return 1
    print(f"{RULE}\nrun_notebook: {args.notebook} ran without errors on {args.backend}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
