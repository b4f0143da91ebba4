"""Reading the connection file a Jupyter client writes for the kernel; writing a new one.

The kernel writes one when started with a file that does not exist yet
(``async-kernel start -f NEW_FILE``). A file the kernel writes holds a fresh random key, is created readable and writable by its
owner only (0600: whoever can read the key can run code as the user), and binds 127.0.0.1
unless told another address.

A file may carry a CurveZMQ key pair (``curve_publickey``/``curve_secretkey``, Z85 text, as
jupyter_client 8.9 and later writes when asked for transport encryption): the transport then
makes every socket a Curve server with it, so nothing crosses the network in clear and a client
without the server's public key cannot talk to the kernel at all.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import ConnectionFileError

__all__ = ["ConnectionInfo"]

_PORT_NAMES = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
_CURVE_NAMES = ("curve_publickey", "curve_secretkey")
_Z85_KEY_LENGTH = 40
"""A 32-byte Curve key in Z85 text."""
_Z85_ALPHABET = frozenset(
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
)


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """Where the kernel's sockets bind and how its messages are signed.

    ``ip`` defaults to 127.0.0.1 so a kernel started without one is never reachable from
    other hosts. The key and the Curve secret key are kept out of ``repr`` so they cannot leak
    into logs. ``curve_publickey``/``curve_secretkey`` are empty unless transport encryption
    was asked for.
    """

    transport: str = "tcp"
    ip: str = "127.0.0.1"
    shell_port: int = 0
    iopub_port: int = 0
    stdin_port: int = 0
    control_port: int = 0
    hb_port: int = 0
    signature_scheme: str = "hmac-sha256"
    key: bytes = b""
    kernel_name: str = ""
    curve_publickey: bytes = b""
    curve_secretkey: bytes = b""

    @property
    def encrypted(self) -> bool:
        """Whether the sockets are CurveZMQ servers (the file carries a Curve key pair)."""
        return bool(self.curve_secretkey)

    def __repr__(self) -> str:
        return (
            f"ConnectionInfo(transport={self.transport!r}, ip={self.ip!r}, "
            f"shell_port={self.shell_port}, iopub_port={self.iopub_port}, "
            f"stdin_port={self.stdin_port}, control_port={self.control_port}, "
            f"hb_port={self.hb_port}, signature_scheme={self.signature_scheme!r}, key=<hidden>, "
            f"encrypted={self.encrypted})"
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConnectionInfo:
        """Build from the decoded JSON of a connection file."""
        transport = data.get("transport", "tcp")
        if transport not in ("tcp", "ipc"):
            msg = f"unsupported transport {transport!r} in connection file; use 'tcp' or 'ipc'"
            raise ConnectionFileError(msg)
        ports: dict[str, int] = {}
        for name in _PORT_NAMES:
            value = data.get(name, 0)
            if not isinstance(value, int) or value < 0:
                raise ConnectionFileError(f"{name} must be a non-negative integer, got {value!r}")
            ports[name] = value
        key = data.get("key", "")
        if not isinstance(key, str):
            raise ConnectionFileError("key must be a string")
        public, secret = (_curve_key(data, name) for name in _CURVE_NAMES)
        if bool(public) != bool(secret):
            msg = (
                "the connection file has only one of curve_publickey and curve_secretkey; "
                "transport encryption needs both (or neither)"
            )
            raise ConnectionFileError(msg)
        return cls(
            transport=transport,
            ip=data.get("ip") or "127.0.0.1",
            signature_scheme=data.get("signature_scheme", "hmac-sha256"),
            key=key.encode("ascii"),
            kernel_name=data.get("kernel_name", ""),
            curve_publickey=public,
            curve_secretkey=secret,
            **ports,
        )

    @classmethod
    def load(cls, path: str | Path) -> ConnectionInfo:
        """Read a connection file.

        Raises:
            ConnectionFileError: the file is missing, not JSON, or has invalid fields.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConnectionFileError(f"cannot read connection file {path}: {exc}") from exc
        except ValueError as exc:
            raise ConnectionFileError(f"connection file {path} is not valid JSON") from exc
        if not isinstance(data, dict):
            raise ConnectionFileError(f"connection file {path} must hold a JSON object")
        return cls.from_dict(data)

    @classmethod
    def generate(cls, ip: str = "127.0.0.1") -> ConnectionInfo:
        """A new tcp connection on ``ip`` with a random key; ports are chosen at bind time."""
        return cls(ip=ip, key=secrets.token_hex(32).encode("ascii"))

    def with_ports(self, ports: dict[str, int]) -> ConnectionInfo:
        """A copy with the given ports (names as in the connection file)."""
        return dataclasses.replace(self, **{name: ports[name] for name in _PORT_NAMES})

    def write(self, path: str | Path) -> None:
        """Write a new connection file readable by its owner only.

        Raises:
            ConnectionFileError: the file exists already or cannot be created.
        """
        data = {
            "transport": self.transport,
            "ip": self.ip,
            **{name: getattr(self, name) for name in _PORT_NAMES},
            "signature_scheme": self.signature_scheme,
            "key": self.key.decode("ascii"),
            "kernel_name": self.kernel_name,
        }
        if self.encrypted:
            data["curve_publickey"] = self.curve_publickey.decode("ascii")
            data["curve_secretkey"] = self.curve_secretkey.decode("ascii")
        path = Path(path)
        # Written in full under a temporary name, then linked into place: a reader never sees
        # a partial file, and an existing file is never replaced.
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            descriptor = os.open(temporary, flags, 0o600)
            try:
                with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                    if hasattr(os, "fchmod"):
                        os.fchmod(file.fileno(), 0o600)  # whatever the umask
                    json.dump(data, file, indent=1)
                os.link(temporary, path)
            finally:
                temporary.unlink(missing_ok=True)
        except OSError as exc:
            raise ConnectionFileError(f"cannot create connection file {path}: {exc}") from exc

    def with_curve_keys(self, public: bytes, secret: bytes) -> ConnectionInfo:
        """A copy whose sockets are Curve servers with this key pair (Z85 text)."""
        return dataclasses.replace(self, curve_publickey=public, curve_secretkey=secret)

    def url(self, port: int) -> str:
        """Return the ZeroMQ address for ``port`` (a path suffix for ipc)."""
        if self.transport == "ipc":
            return f"ipc://{self.ip}-{port}"
        return f"tcp://{self.ip}:{port}"


def _curve_key(data: dict[str, Any], name: str) -> bytes:
    """The Z85 text of a Curve key field, or b"" when it is absent (or null)."""
    value = data.get(name)
    if value is None or value == "":
        return b""
    if (
        not isinstance(value, str)
        or len(value) != _Z85_KEY_LENGTH
        or not _Z85_ALPHABET.issuperset(value)
    ):
        msg = f"{name} must be a {_Z85_KEY_LENGTH}-character Z85 CurveZMQ key"
        raise ConnectionFileError(msg)
    return value.encode("ascii")
