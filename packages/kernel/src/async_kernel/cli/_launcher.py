"""`async-kernel launch`: start a kernel for Gateway Provisioners or Enterprise Gateway.

A remote provisioner (Kubernetes, Docker, YARN, SSH hosts) runs this command where the kernel is
to live, with the arguments its kernel spec names: ``--kernel-id``, ``--response-address``,
``--public-key``, ``--port-range`` and ``--transport-encryption``. The launcher then:

1. checks every argument first, so a bad one is an error message and exit status 2 before any
   port is taken;
2. listens on five kernel ports and a communication port, chosen in the port range, on all
   interfaces (``--ip``): the provisioner connects from another host. Kernels started any other
   way keep binding 127.0.0.1;
3. makes a message key, and a CurveZMQ key pair when transport encryption is asked for;
4. sends the connection information, sealed with the provisioner's public key
   (``_launch_payload``), to the response address; a refused or silent address is an error and
   exit status 1, never a kernel nobody knows about;
5. forks the communication port's listener (``_comm_listener``) and serves the kernel on the
   ports it already listens on, until it is shut down.

Runnable as ``async-kernel launch ...``, ``python -m async_kernel launch ...`` or
``python -m async_kernel.cli._launcher ...``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._exceptions import KernelError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from Cryptodome.PublicKey.RSA import RsaKey

    from ..messaging._connection import ConnectionInfo

__all__ = ["LaunchError", "main"]

_PROG = "async-kernel launch"
_KERNEL_PORTS = ("shell_port", "iopub_port", "stdin_port", "hb_port", "control_port")
_LOWEST_PORT = 1024
_HIGHEST_PORT = 65535
_PORT_ATTEMPTS = 100
"""Random ports tried in a range before giving up on it."""
RESPONSE_TIMEOUT = 30.0
"""Seconds to reach the response address and hand over the connection information (default)."""
_ENCRYPTION_POLICIES = ("disabled", "auto", "required")
BACKEND_VARIABLE = "ASYNC_KERNEL_BACKEND"
"""The environment variable a container spec sets for the backend (see ``_provisioner_specs``)."""


class LaunchError(KernelError, RuntimeError):
    """The launcher cannot start the kernel it was asked for; ``status`` is its exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class LaunchRequest:
    """What the provisioner asked for, checked."""

    kernel_id: str
    response_host: str
    response_port: int
    public_key: RsaKey
    port_range: tuple[int, int]
    """Lowest and highest port to use; (0, 0) for any free port."""
    encrypt: bool
    ip: str
    backend: str
    log_level: str
    response_timeout: float = RESPONSE_TIMEOUT


def main(argv: Sequence[str] | None = None) -> int:
    """Run the launcher; return its exit status (0 once the kernel was served and shut down)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        request = parse_request(arguments)
        return launch(request)
    except LaunchError as error:
        sys.stderr.write(f"{_PROG}: error: {error}\n")
        return error.status


class _Parser(argparse.ArgumentParser):
    """argparse, raising instead of exiting, so every bad argument takes one path."""

    def error(self, message: str) -> Any:
        """Raise the error argparse would print, to exit with it as every other one."""
        raise LaunchError(message, 2)


def _parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=_PROG,
        description="Start a kernel for a Gateway Provisioners / Enterprise Gateway provisioner, "
        "which fills in these arguments from its kernel spec. In a container started by the "
        "kubernetes or docker provisioner, each defaults to the environment variable named in "
        "brackets.",
    )

    def add(option: str, variable: str, help: str, metavar: str, default: str | None) -> None:
        value = environ.get(variable, default)
        parser.add_argument(
            option,
            default=value,
            required=value is None,
            metavar=metavar,
            help=f"{help} [{variable}]",
        )

    add("--kernel-id", "KERNEL_ID", "the kernel's id", "ID", None)
    add(
        "--response-address",
        "RESPONSE_ADDRESS",
        "where the provisioner waits for the connection information",
        "HOST:PORT",
        None,
    )
    add(
        "--public-key",
        "PUBLIC_KEY",
        "the provisioner's RSA public key (base64), to seal the connection information",
        "KEY",
        None,
    )
    add("--port-range", "PORT_RANGE", "ports to listen on (default: any)", "LOW..HIGH", "0..0")
    add(
        "--transport-encryption",
        "TRANSPORT_ENCRYPTION",
        "'required' or 'auto' for CurveZMQ on every kernel socket; empty or 'disabled' for none",
        "POLICY",
        "",
    )
    parser.add_argument(
        "--ip",
        default="0.0.0.0",  # served to a remote client: the point of launching
        metavar="ADDRESS",
        help="address to listen on (default: %(default)s, every interface)",
    )
    add("--backend", BACKEND_VARIABLE, "event-loop backend (asyncio, trio)", "NAME", "asyncio")
    parser.add_argument(
        "--response-timeout",
        type=float,
        default=RESPONSE_TIMEOUT,
        metavar="SECONDS",
        help="how long to try to reach the response address (default: %(default)s)",
    )
    parser.add_argument(
        "--log-level", default="WARNING", type=str.upper, metavar="LEVEL", help="kernel log level"
    )
    return parser


def parse_request(
    arguments: Sequence[str], environ: Mapping[str, str] | None = None
) -> LaunchRequest:
    """Check the launcher's arguments (``environ``, default ``os.environ``, gives defaults).

    Raises:
        LaunchError: with status 2, naming the argument that is missing or wrong.
    """
    args = _parser(os.environ if environ is None else environ).parse_args(arguments)
    if not hasattr(os, "fork"):
        raise LaunchError("the remote launcher runs on POSIX systems (Linux, macOS) only", 2)
    kernel_id: str = args.kernel_id.strip()
    if not kernel_id or _is_placeholder(kernel_id):
        raise LaunchError(f"--kernel-id must name the kernel, got {args.kernel_id!r}", 2)
    host, port = _parse_response_address(args.response_address)
    from ..runtime._backends import check_backend
    from ._launch_payload import LaunchPayloadError, import_public_key

    try:
        public_key = import_public_key(args.public_key)
    except LaunchPayloadError as error:
        raise LaunchError(str(error), 2) from error
    try:
        check_backend(args.backend)
    except KernelError as error:
        raise LaunchError(str(error), 2) from error
    try:
        socket.inet_pton(socket.AF_INET, args.ip)
    except OSError as error:
        raise LaunchError(f"--ip must be an IPv4 address, got {args.ip!r}", 2) from error
    return LaunchRequest(
        kernel_id=kernel_id,
        response_host=host,
        response_port=port,
        public_key=public_key,
        port_range=_parse_port_range(args.port_range),
        encrypt=_wants_encryption(args.transport_encryption),
        ip=args.ip,
        backend=args.backend,
        log_level=args.log_level,
        response_timeout=_positive(args.response_timeout, "--response-timeout"),
    )


def _positive(value: float, option: str) -> float:
    if not value > 0:  # also refuses nan
        raise LaunchError(f"{option} must be a positive number of seconds, got {value}", 2)
    return value


def _is_placeholder(value: str) -> bool:
    """A ``{name}`` the provisioner left unsubstituted (an older provisioner)."""
    return value.startswith("{") and value.endswith("}")


def _parse_response_address(address: str) -> tuple[str, int]:
    host, separator, port_text = address.rpartition(":")
    if not separator or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        msg = f"--response-address must be HOST:PORT with a port from 1 to 65535, got {address!r}"
        raise LaunchError(msg, 2)
    return host.strip("[]"), int(port_text)


def _parse_port_range(text: str) -> tuple[int, int]:
    if not text or _is_placeholder(text):
        return 0, 0
    low_text, separator, high_text = text.partition("..")
    if not separator or not low_text.isdigit() or not high_text.isdigit():
        raise LaunchError(f"--port-range must be LOW..HIGH, got {text!r}", 2)
    low, high = int(low_text), int(high_text)
    if (low, high) == (0, 0):
        return 0, 0
    if not _LOWEST_PORT <= low <= high <= _HIGHEST_PORT:
        msg = (
            f"--port-range {text!r} must lie within {_LOWEST_PORT}..{_HIGHEST_PORT} with LOW "
            "at most HIGH"
        )
        raise LaunchError(msg, 2)
    needed = len(_KERNEL_PORTS) + 1
    if high - low + 1 < needed:
        raise LaunchError(f"--port-range {text!r} has fewer than the {needed} ports needed", 2)
    return low, high


def _wants_encryption(text: str) -> bool:
    policy = text.strip().lower()
    if not policy or _is_placeholder(policy):
        return False
    if policy not in _ENCRYPTION_POLICIES:
        msg = (
            f"--transport-encryption must be one of {', '.join(_ENCRYPTION_POLICIES)} (or "
            f"empty), got {text!r}"
        )
        raise LaunchError(msg, 2)
    if policy == "disabled":
        return False
    import zmq

    if zmq.has("curve"):
        return True
    if policy == "required":
        msg = (
            "--transport-encryption required, but this libzmq has no CurveZMQ; install a pyzmq "
            "wheel built with libsodium"
        )
        raise LaunchError(msg, 2)
    return False  # "auto": the provisioner accepts a kernel without Curve keys


# --- launching ------------------------------------------------------------------------------


def launch(request: LaunchRequest) -> int:
    """Listen, report to the provisioner, and serve the kernel until it is shut down.

    Raises:
        LaunchError: no ports free in the range, or the response address cannot be reached.
    """
    from ..messaging._connection import ConnectionInfo
    from ..messaging._listeners import Listeners
    from ._comm_listener import CommListener

    listening = _listen_in_range(request.ip, request.port_range, len(_KERNEL_PORTS) + 1)
    comm_socket, kernel_sockets = listening[0], listening[1:]
    ports = {
        name: sock.getsockname()[1]
        for name, sock in zip(_KERNEL_PORTS, kernel_sockets, strict=True)
    }
    info = ConnectionInfo(ip=request.ip, key=secrets.token_hex(32).encode("ascii"))
    info = info.with_ports(ports)
    if request.encrypt:
        import zmq

        info = info.with_curve_keys(*zmq.curve_keypair())
    label = re.sub(r"[^A-Za-z0-9_.-]", "_", request.kernel_id[:36])
    folder = Path(tempfile.mkdtemp(prefix=f"async-kernel-{label}-"))
    connection_file = folder / "kernel.json"
    listener = CommListener(comm_socket, os.getpid())
    try:
        info.write(connection_file)
        _send_connection_info(request, info, listener.port)
        listener.fork(inherited=[sock.fileno() for sock in kernel_sockets])
        from .._start import run_kernel

        # From here the kernel owns the listening sockets: it adopts them, or closes them.
        descriptors = {
            port: sock.detach() for port, sock in zip(ports.values(), kernel_sockets, strict=True)
        }
        run_kernel(
            str(connection_file),
            Listeners(descriptors),
            backend=request.backend,
            log_level=request.log_level,
        )
    finally:
        listener.stop()
        for sock in listening:
            sock.close()  # a socket handed over (detached) is left alone
        shutil.rmtree(folder, ignore_errors=True)
    return 0


def _listen_in_range(ip: str, port_range: tuple[int, int], count: int) -> list[socket.socket]:
    """Listen on ``count`` distinct free ports in ``port_range`` (any when it is (0, 0))."""
    low, high = port_range
    taken: list[socket.socket] = []
    candidates = iter(random.sample(range(low, high + 1), min(high - low + 1, _PORT_ATTEMPTS)))
    try:
        while len(taken) < count:
            port = 0 if (low, high) == (0, 0) else next(candidates, None)
            if port is None:
                msg = (
                    f"found only {len(taken)} of the {count} free ports needed in "
                    f"--port-range {low}..{high}; widen the range"
                )
                raise LaunchError(msg)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((ip, port))
                sock.listen(100)
            except OSError as error:
                sock.close()
                if port == 0:
                    raise LaunchError(f"cannot listen on {ip}: {error}") from error
                continue
            taken.append(sock)
    except BaseException:
        for sock in taken:
            sock.close()
        raise
    return taken


def _send_connection_info(request: LaunchRequest, info: ConnectionInfo, comm_port: int) -> None:
    """Hand the sealed connection information to the provisioner (launcher's main thread)."""
    from ._launch_payload import seal

    contents: dict[str, Any] = {
        "shell_port": info.shell_port,
        "iopub_port": info.iopub_port,
        "stdin_port": info.stdin_port,
        "hb_port": info.hb_port,
        "control_port": info.control_port,
        "ip": info.ip,
        "key": info.key.decode("ascii"),
        "transport": info.transport,
        "signature_scheme": info.signature_scheme,
        "kernel_name": "",
        "pid": os.getpid(),
        "pgid": os.getpgid(0),
        "comm_port": comm_port,
        "kernel_id": request.kernel_id,
    }
    if info.encrypted:
        contents["curve_publickey"] = info.curve_publickey.decode("ascii")
        contents["curve_secretkey"] = info.curve_secretkey.decode("ascii")
    payload = seal(contents, request.public_key)
    address = (request.response_host, request.response_port)
    try:
        with socket.create_connection(address, timeout=request.response_timeout) as connection:
            connection.sendall(payload)
    except OSError as error:
        msg = (
            f"cannot send the connection information to the response address "
            f"{request.response_host}:{request.response_port}: {error}"
        )
        raise LaunchError(msg) from error


if __name__ == "__main__":
    sys.exit(main())
