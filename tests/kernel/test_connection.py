"""Connection files: safe defaults when reading, owner-only when the kernel writes one."""

from __future__ import annotations

import json
import os
import stat
from typing import TYPE_CHECKING

import pytest

from async_kernel import ConnectionFileError
from async_kernel.messaging._connection import ConnectionInfo

if TYPE_CHECKING:
    from pathlib import Path

PORTS = {"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}


@pytest.mark.parametrize("data", [{}, {"ip": ""}, {"ip": None}])
def test_address_defaults_to_loopback(data: dict[str, object]) -> None:
    assert ConnectionInfo.from_dict(data).ip == "127.0.0.1"
    assert ConnectionInfo().ip == "127.0.0.1"
    assert ConnectionInfo.generate().ip == "127.0.0.1"


def test_generated_connections_get_distinct_random_keys() -> None:
    first, second = ConnectionInfo.generate(), ConnectionInfo.generate()
    assert len(first.key) == 64
    assert first.key != second.key


def test_written_file_is_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "kernel.json"
    info = ConnectionInfo.generate("127.0.0.2").with_ports(PORTS)
    previous = os.umask(0)
    try:
        info.write(path)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ConnectionInfo.load(path) == info
    assert json.loads(path.read_text())["ip"] == "127.0.0.2"
    assert [entry.name for entry in tmp_path.iterdir()] == ["kernel.json"]


def test_write_never_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "kernel.json"
    path.write_text("theirs")
    with pytest.raises(ConnectionFileError, match="cannot create connection file"):
        ConnectionInfo.generate().with_ports(PORTS).write(path)
    assert path.read_text() == "theirs"


def test_key_is_hidden_from_repr_and_errors(tmp_path: Path) -> None:
    info = ConnectionInfo.generate()
    key = info.key.decode()
    assert key not in repr(info)
    assert key not in str(info)
    bad_files = [
        {"key": key, "shell_port": -1},
        {"key": key, "transport": "udp"},
        {"key": [key]},
    ]
    for data in bad_files:
        with pytest.raises(ConnectionFileError) as caught:
            ConnectionInfo.from_dict(data)
        assert key not in str(caught.value)
    broken = tmp_path / "broken.json"
    broken.write_text(f'{{"key": "{key}", ')
    with pytest.raises(ConnectionFileError) as caught:
        ConnectionInfo.load(broken)
    assert key not in str(caught.value)


CURVE = {
    "curve_publickey": "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
    "curve_secretkey": "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6",
}
"""A Curve key pair in Z85, as jupyter_client writes it (libzmq's test vector)."""


def test_curve_keys_are_read_written_and_kept_out_of_repr(tmp_path: Path) -> None:
    info = ConnectionInfo.from_dict({**PORTS, **CURVE, "key": "k"})
    assert info.encrypted
    assert info.curve_publickey == CURVE["curve_publickey"].encode()
    assert CURVE["curve_secretkey"] not in repr(info)
    path = tmp_path / "kernel.json"
    info.write(path)
    assert ConnectionInfo.load(path) == info
    assert not ConnectionInfo.from_dict({**PORTS, "curve_publickey": None}).encrypted


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"curve_publickey": CURVE["curve_publickey"]}, "only one of"),
        ({"curve_secretkey": CURVE["curve_secretkey"]}, "only one of"),
        ({**CURVE, "curve_secretkey": "short"}, "curve_secretkey must be a 40-character"),
        ({**CURVE, "curve_publickey": 7}, "curve_publickey must be a 40-character"),
        ({**CURVE, "curve_publickey": "\u00e9" * 40}, "curve_publickey must be a 40-character"),
    ],
)
def test_bad_curve_keys_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConnectionFileError, match=message):
        ConnectionInfo.from_dict({**PORTS, **fields})
