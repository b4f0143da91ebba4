"""Run async-kernel through Gateway Provisioners' DistributedProvisioner, as a Jupyter server would.

Usage: python distributed.py SPEC_NAME [disabled|auto|required]
"""

import getpass
import os
import sys
import time

from jupyter_client.manager import KernelManager


def run(spec_name: str, encryption: str = "disabled") -> list[dict]:
    """Start, execute, interrupt, restart and shut down; return each kernel's connection info."""
    manager = KernelManager(kernel_name=spec_name, transport_encryption=encryption)
    # The provisioners refuse to start kernels for root; name the user the kernel is for.
    user = os.environ.get("KERNEL_USERNAME") or getpass.getuser()
    manager.start_kernel(env=dict(os.environ, KERNEL_USERNAME="jovyan" if user == "root" else user))
    kernels = [_kernel(manager)]
    try:
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        reply = client.execute_interactive("print('hello from', __import__('os').getpid())")
        print("executed:", reply["content"]["status"])

        client.execute("import time; time.sleep(600)")
        while client.get_iopub_msg(timeout=60)["msg_type"] != "execute_input":
            pass  # wait until the cell runs
        manager.interrupt_kernel()  # through the provisioner's communication port
        reply = client.get_shell_msg(timeout=60)
        print("interrupted:", reply["content"]["ename"])
        client.stop_channels()

        manager.restart_kernel()
        kernels.append(_kernel(manager))
        client = manager.client()  # the restarted kernel may listen on new ports
        client.start_channels()
        client.wait_for_ready(timeout=60)
        reply = client.execute_interactive("print('back')")
        print("restarted:", reply["content"]["status"])
        client.stop_channels()
    finally:
        manager.shutdown_kernel()
    print("shut down, encrypted:", "curve_publickey" in kernels[0])
    return kernels


def _kernel(manager: KernelManager) -> dict:
    """Where the kernel listens, its process and its communication port."""
    provisioner = manager.provisioner
    extra = {name: getattr(provisioner, name, None) for name in ("pid", "comm_port")}
    return dict(manager.get_connection_info(), kernel_id=manager.kernel_id, **extra)


if __name__ == "__main__":
    started = time.monotonic()
    run(sys.argv[1], *sys.argv[2:3])
    print(f"took {time.monotonic() - started:.1f} s")
