"""IPython's configuration reaches the kernel as it reaches ipykernel: the profile's config
files and startup scripts, and ``--Class.trait=value`` settings on the kernel's command line.

The script makes a throwaway IPython directory, so your own profile is left alone. Needs the
``async`` kernel spec (``async-kernel install``); give ``async-trio`` to run it on trio.
"""

import os
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import start_new_kernel

KERNEL_NAME = sys.argv[1] if len(sys.argv) > 1 else "async"  # or "async-trio"

ipython_dir = Path(tempfile.mkdtemp())
profile = ipython_dir / "profile_default"
(profile / "startup").mkdir(parents=True)
# Read by IPython everywhere; the kernel ignores the Terminal* settings such files hold.
(profile / "ipython_config.py").write_text(
    "c.InteractiveShell.ast_node_interactivity = 'all'\n"
    "c.TerminalInteractiveShell.confirm_exit = False\n"
)
# Read by kernels only.
(profile / "ipython_kernel_config.py").write_text(
    "c.InteractiveShellApp.exec_lines = ['import math', 'steps.append(\"exec_lines\")']\n"
)
(profile / "startup" / "00-first.py").write_text("steps = ['startup/00-first.py']\n")

kernel, client = start_new_kernel(
    kernel_name=KERNEL_NAME,
    env={**os.environ, "IPYTHONDIR": str(ipython_dir)},
    # What nbclient adds for a kernel named python3; any --Class.trait=value works.
    extra_arguments=["--HistoryManager.hist_file=:memory:"],
)
try:
    cell = client.execute("steps\nmath.pi\nget_ipython().history_manager.hist_file")
    while True:  # each expression's result: ast_node_interactivity = 'all'
        msg = client.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") != cell:
            continue
        if msg["msg_type"] == "execute_result":
            print("result:", msg["content"]["data"]["text/plain"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
finally:
    client.stop_channels()
    kernel.shutdown_kernel()
