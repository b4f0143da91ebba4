"""Kernel specs for Gateway Provisioners: `async-kernel install --provisioner NAME`.

- ``distributed`` (SSH hosts): the provisioner runs the spec's ``argv`` on a host it picks (without
  SSH when the host is this one), so ``argv`` is our launcher, ``python -m async_kernel launch``.
- ``kubernetes`` and ``docker``: ``argv`` runs the provisioners' own script where Jupyter runs;
  it creates a pod or container from ``--image``, passing the launch arguments as environment
  variables (``KERNEL_ID``, ``RESPONSE_ADDRESS``, ``PUBLIC_KEY``, ``PORT_RANGE``,
  ``TRANSPORT_ENCRYPTION``, plus the spec's ``env``). The image runs ``async-kernel launch``,
  which reads them (see docker/kernel-image/Dockerfile); the backend travels as
  ``ASYNC_KERNEL_BACKEND`` in the spec's ``env``.

Every spec declares ``"supported_encryption": ["curve"]``, so ``transport_encryption`` "auto" or
"required" gives the kernel's sockets CurveZMQ, and ``interrupt_mode: signal``: the provisioner
interrupts through the launcher's communication port.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._exceptions import KernelError
from ..runtime._backends import BUILTIN_BACKEND, check_backend
from ._kernelspec import ForeignKernelSpecError, check_kernel_name, kernels_dir
from ._launcher import BACKEND_VARIABLE

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["PROVISIONERS", "build_provisioner_spec", "install_provisioner_spec", "main"]

PROVISIONERS = {
    "distributed": "distributed-provisioner",
    "kubernetes": "kubernetes-provisioner",
    "docker": "docker-provisioner",
}
"""Our names for the provisioners, and the names they register with jupyter_client."""

_CONTAINER_SCRIPTS = {
    "kubernetes": ("kubernetes", "launch_kubernetes.py"),
    "docker": ("docker", "launch_docker.py"),
}
_LAUNCH_ARGUMENTS = [
    "--kernel-id",
    "{kernel_id}",
    "--port-range",
    "{port_range}",
    "--response-address",
    "{response_address}",
    "--public-key",
    "{public_key}",
    "--transport-encryption",
    "{transport_encryption}",
]
"""The launch protocol's arguments; the provisioner fills in each ``{name}``."""
_MARKER = "async_kernel_provisioner"
"""Metadata key that marks a spec as one we wrote (its argv may run another program)."""


class ProvisionerSpecError(KernelError, ValueError):
    """A provisioner spec cannot be built or installed as asked."""


def build_provisioner_spec(
    provisioner: str,
    *,
    backend: str = BUILTIN_BACKEND,
    display_name: str | None = None,
    image: str | None = None,
    remote_hosts: Sequence[str] = (),
    python: str | None = None,
    launch_timeout: int = 30,
) -> dict[str, Any]:
    """Return the ``kernel.json`` contents for a provisioner.

    Args:
        provisioner: ``distributed``, ``kubernetes`` or ``docker``.
        backend: The kernel's backend.
        display_name: What front ends show.
        image: The kernel image (``kubernetes``, ``docker``; required there).
        remote_hosts: Hosts the distributed provisioner picks from (its default: localhost).
        python: The Python on the kernel's host (distributed); default: this one.
        launch_timeout: Seconds the provisioner waits for the connection information.

    Raises:
        ProvisionerSpecError: unknown provisioner, missing image, or Gateway Provisioners not
            installed here (a container spec runs its script).
    """
    if provisioner not in PROVISIONERS:
        msg = f"unknown provisioner {provisioner!r}; use one of {', '.join(PROVISIONERS)}"
        raise ProvisionerSpecError(msg)
    config: dict[str, Any] = {"launch_timeout": launch_timeout}
    env: dict[str, str] = {}
    if provisioner == "distributed":
        if image is not None:
            raise ProvisionerSpecError("--image is only for the kubernetes and docker provisioners")
        argv = [python or sys.executable, "-m", "async_kernel", "launch", *_LAUNCH_ARGUMENTS]
        if backend != BUILTIN_BACKEND:
            argv += ["--backend", backend]
        if remote_hosts:
            config["remote_hosts"] = list(remote_hosts)
    else:
        if not image:
            raise ProvisionerSpecError(f"the {provisioner} provisioner needs --image IMAGE")
        if remote_hosts:
            raise ProvisionerSpecError("--remote-hosts is only for the distributed provisioner")
        argv = [python or sys.executable, str(_container_script(provisioner)), *_LAUNCH_ARGUMENTS]
        config["image_name"] = image
        env[BACKEND_VARIABLE] = backend
    spec: dict[str, Any] = {
        "argv": argv,
        "display_name": display_name or f"Python 3 (async-kernel, {backend}, {provisioner})",
        "language": "python",
        "interrupt_mode": "signal",
        "metadata": {
            "debugger": True,
            "supported_encryption": ["curve"],
            "kernel_provisioner": {
                "provisioner_name": PROVISIONERS[provisioner],
                "config": config,
            },
            _MARKER: {"provisioner": provisioner, "backend": backend},
        },
    }
    if env:
        spec["env"] = env
    return spec


def _container_script(provisioner: str) -> Path:
    """The provisioners' script that starts a pod or container (found without importing)."""
    found = importlib.util.find_spec("gateway_provisioners")
    if found is None or not found.submodule_search_locations:
        msg = (
            f"the {provisioner} spec runs a script of Gateway Provisioners; install it where "
            "Jupyter runs: pip install gateway_provisioners"
        )
        raise ProvisionerSpecError(msg)
    folder, script = _CONTAINER_SCRIPTS[provisioner]
    package = Path(next(iter(found.submodule_search_locations)))
    return package / "kernel-launchers" / folder / "scripts" / script


def install_provisioner_spec(
    name: str,
    spec: dict[str, Any],
    *,
    user: bool = False,
    sys_prefix: bool = False,
    prefix: str | None = None,
) -> Path:
    """Write ``spec`` as kernel spec ``name``, replacing only a spec we wrote before.

    Raises:
        InvalidKernelNameError: The name has characters Jupyter does not allow.
        ForeignKernelSpecError: A spec of that name exists and is not ours.
    """
    name = check_kernel_name(name)
    parent = kernels_dir(user=user, sys_prefix=sys_prefix, prefix=prefix)
    destination = parent / name
    if destination.exists() and not _is_ours(destination):
        msg = (
            f"{destination} holds a kernel spec that async-kernel did not write for a "
            f"provisioner; choose another name or remove it first: jupyter kernelspec remove {name}"
        )
        raise ForeignKernelSpecError(msg)
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=parent))
    try:
        (staging / "kernel.json").write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
        staging.chmod(0o755)
        if destination.exists():
            shutil.rmtree(destination)
        staging.rename(destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return destination


def _is_ours(spec_dir: Path) -> bool:
    try:
        spec = json.loads((spec_dir / "kernel.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(spec, dict) and _MARKER in (spec.get("metadata") or {})


# --- command line: `async-kernel install --provisioner NAME ...` -------------------------------


def main(arguments: Sequence[str]) -> int | None:
    """Run ``async-kernel install --provisioner ...`` (arguments after ``install``).

    Returns None on success, 2 for a bad request, 1 when the spec cannot be written.
    """
    args = _parser().parse_args(arguments)
    try:
        check_backend(args.backend)
        spec = build_provisioner_spec(
            args.provisioner,
            backend=args.backend,
            display_name=args.display_name,
            image=args.image,
            remote_hosts=[host for hosts in args.remote_hosts for host in hosts.split(",") if host],
            python=args.python,
            launch_timeout=args.launch_timeout,
        )
        for pair in args.env:
            key, separator, value = pair.partition("=")
            if not key or not separator:
                raise ProvisionerSpecError(f"--env expects KEY=VALUE, got {pair!r}")
            spec.setdefault("env", {})[key] = value
        name = args.name or _default_name(args.provisioner, args.backend)
        path = install_provisioner_spec(
            name, spec, user=args.user, sys_prefix=args.sys_prefix, prefix=args.prefix
        )
    except (ForeignKernelSpecError, OSError) as error:
        sys.stderr.write(f"async-kernel install: error: {error}\n")
        return 1
    except (KernelError, ValueError) as error:
        sys.stderr.write(f"async-kernel install: error: {error}\n")
        return 2
    sys.stdout.write(
        f"Installed kernel spec {path.name!r} (provisioner {args.provisioner}, "
        f"backend {args.backend}) in {path}\n"
    )
    return None


def _default_name(provisioner: str, backend: str) -> str:
    suffix = "" if backend == BUILTIN_BACKEND else f"-{backend}"
    return f"async-{provisioner}{suffix}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="async-kernel install --provisioner",
        description="Install a kernel spec that starts async-kernel through a Gateway "
        "Provisioners provisioner (Jupyter Enterprise Gateway, or jupyter_client with "
        "gateway_provisioners installed).",
    )
    parser.add_argument("--provisioner", required=True, choices=sorted(PROVISIONERS))
    parser.add_argument(
        "--name", help="spec name (default: async-PROVISIONER, or async-PROVISIONER-BACKEND)"
    )
    parser.add_argument("--display-name", metavar="TEXT", help="name shown in front ends")
    parser.add_argument("--backend", default=BUILTIN_BACKEND, metavar="NAME")
    parser.add_argument("--image", metavar="IMAGE", help="kernel image (kubernetes, docker)")
    parser.add_argument(
        "--remote-hosts",
        action="append",
        default=[],
        metavar="HOST[,HOST...]",
        help="hosts for the distributed provisioner (default: its own, localhost)",
    )
    parser.add_argument(
        "--python", metavar="PATH", help="the Python that runs the launcher (default: this one)"
    )
    parser.add_argument(
        "--launch-timeout",
        type=int,
        default=30,
        metavar="SECONDS",
        help="how long the provisioner waits for the kernel (default: %(default)s)",
    )
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    location = parser.add_mutually_exclusive_group()
    location.add_argument("--user", action="store_true", help="install for the current user")
    location.add_argument("--sys-prefix", action="store_true", help="install into this env")
    location.add_argument("--prefix", metavar="PATH", help="install under PATH/share/jupyter")
    return parser
