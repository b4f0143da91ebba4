"""Execute a notebook on async-kernel through nbclient, sending each cell's tags; save it.

    python tests/notebooks/run_with_tags.py NOTEBOOK BACKEND OUTPUT FOLDER

nbclient 0.11 does not send a cell's tags with its execute_request; this client adds them to
the request's metadata, as a frontend that sends them does. Run as a subprocess by the tests:
nbclient leaves ZeroMQ sockets for the garbage collector, which pytest reports as errors.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.kernel_fixtures import write_spec


class TaggingNotebookClient(NotebookClient):
    """nbclient, sending each cell's tags in its execute_request's metadata."""

    tags: list[str] = []  # noqa: RUF012 - set per cell, before its request goes out

    async def async_execute_cell(
        self, cell: Any, cell_index: int, *args: Any, **kwargs: Any
    ) -> Any:
        self.tags = list(cell.get("metadata", {}).get("tags", []))
        return await super().async_execute_cell(cell, cell_index, *args, **kwargs)

    async def async_start_new_kernel_client(self) -> Any:
        kernel_client = await super().async_start_new_kernel_client()
        channel = kernel_client.shell_channel
        send = channel.send

        def send_with_tags(msg: dict[str, Any]) -> None:
            if msg["header"]["msg_type"] == "execute_request" and self.tags:
                msg["metadata"]["tags"] = self.tags
            send(msg)

        channel.send = send_with_tags
        return kernel_client


def main() -> None:
    notebook_path, backend, output, folder = sys.argv[1:5]
    notebook = nbformat.read(notebook_path, as_version=4)
    specs = write_spec(Path(folder), backend)
    manager = KernelManager(kernel_name="test", kernel_spec_manager=specs)
    client = TaggingNotebookClient(
        notebook, km=manager, timeout=60, resources={"metadata": {"path": folder}}
    )
    try:
        client.execute(env={"IPYTHONDIR": str(Path(folder, "ipython"))})
    finally:
        nbformat.write(notebook, output)
        if manager.has_kernel:  # nbclient leaves a kernel manager it was given running
            manager.shutdown_kernel()


if __name__ == "__main__":
    main()
