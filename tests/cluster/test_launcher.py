"""``async-kernel launch``: its arguments, its errors, its payload and its communication port.

The test plays the provisioner's side of the protocol itself (an RSA key pair, a response
socket, requests on the communication port), so each case runs without the provisioner's
polling.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
from Cryptodome.Cipher import AES, PKCS1_v1_5
from Cryptodome.PublicKey import RSA
from Cryptodome.Util.Padding import unpad
from jupyter_client.blocking.client import BlockingKernelClient

from async_kernel.cli._launch_payload import seal
from async_kernel.cli._launcher import LaunchError, parse_request

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

TIMEOUT = 30
_KEY = RSA.generate(1024)  # the provisioners' own key size
PUBLIC_KEY = base64.b64encode(_KEY.publickey().export_key("DER")).decode()
"""As the provisioners pass it: the PEM body, base64 of the DER key."""


def _arguments(**overrides: str | None) -> list[str]:
    values: dict[str, str | None] = {
        "--kernel-id": "5c6d1f9e-0000-4000-8000-000000000001",
        "--response-address": "127.0.0.1:9",
        "--public-key": PUBLIC_KEY,
        "--port-range": "0..0",
        "--transport-encryption": "",
    }
    values.update({f"--{name.replace('_', '-')}": value for name, value in overrides.items()})
    arguments: list[str] = []
    for option, value in values.items():
        if value is not None:
            arguments += [option, value]
    return arguments


def _decrypt(payload: bytes) -> dict[str, Any]:
    """Open a payload as the provisioner does, with its private key."""
    sealed = json.loads(base64.b64decode(payload))
    assert sealed["version"] == 1
    aes_key = PKCS1_v1_5.new(_KEY).decrypt(base64.b64decode(sealed["key"]), None)
    assert aes_key is not None
    cipher = AES.new(aes_key, AES.MODE_ECB)
    plain = unpad(cipher.decrypt(base64.b64decode(sealed["conn_info"])), 16)
    return json.loads(plain)


# --- arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kernel_id": None}, "--kernel-id"),
        ({"response_address": None}, "--response-address"),
        ({"public_key": None}, "--public-key"),
        ({"kernel_id": ""}, "--kernel-id must name the kernel"),
        ({"kernel_id": "{kernel_id}"}, "--kernel-id must name the kernel"),
        ({"response_address": "localhost"}, "HOST:PORT"),
        ({"response_address": "127.0.0.1:0"}, "HOST:PORT"),
        ({"response_address": "127.0.0.1:http"}, "HOST:PORT"),
        ({"public_key": "not base64!"}, "not base64"),
        ({"public_key": base64.b64encode(b"junk" * 20).decode()}, "not an RSA public key"),
        ({"public_key": base64.b64encode(_KEY.export_key("DER")).decode()}, "private key"),
        ({"port_range": "9000"}, "LOW..HIGH"),
        ({"port_range": "9000..8000"}, "within 1024..65535"),
        ({"port_range": "80..2000"}, "within 1024..65535"),
        ({"port_range": "40000..40003"}, "fewer than the 6 ports"),
        ({"transport_encryption": "always"}, "--transport-encryption must be one of"),
        ({"backend": "no-such-backend"}, "no kernel backend named 'no-such-backend'"),
        ({"ip": "example.org"}, "--ip must be an IPv4 address"),
        ({"response_timeout": "0"}, "--response-timeout must be a positive number"),
        ({"response_timeout": "soon"}, "--response-timeout: invalid float value"),
    ],
)
def test_bad_arguments_are_refused_with_status_2(overrides: dict[str, str], message: str) -> None:
    """Each bad or missing argument is named in the error, before any port is taken."""
    with pytest.raises(LaunchError, match=message) as caught:
        parse_request(_arguments(**overrides), environ={})
    assert caught.value.status == 2


def test_placeholders_an_older_provisioner_leaves_mean_defaults() -> None:
    """An unsubstituted ``{port_range}`` or ``{transport_encryption}`` is as if absent."""
    request = parse_request(
        _arguments(port_range="{port_range}", transport_encryption="{transport_encryption}"),
        environ={},
    )
    assert request.port_range == (0, 0)
    assert not request.encrypt


def test_a_container_passes_the_arguments_in_its_environment() -> None:
    """The kubernetes and docker provisioners set variables, not arguments, in the image."""
    environ = {
        "KERNEL_ID": "from-environment",
        "RESPONSE_ADDRESS": "10.0.0.5:8877",
        "PUBLIC_KEY": PUBLIC_KEY,
        "PORT_RANGE": "40000..41000",
        "TRANSPORT_ENCRYPTION": "required",
        "ASYNC_KERNEL_BACKEND": "trio",
    }
    request = parse_request([], environ=environ)
    assert request.kernel_id == "from-environment"
    assert (request.response_host, request.response_port) == ("10.0.0.5", 8877)
    assert request.port_range == (40000, 41000)
    assert request.encrypt
    assert request.backend == "trio"
    assert request.ip == "0.0.0.0"  # it serves a client on another host


def test_the_payload_opens_with_the_provisioners_private_key() -> None:
    """Version 1: an AES key wrapped with the RSA key, the connection info sealed with it."""
    request = parse_request(_arguments(), environ={})
    info = {"shell_port": 1, "key": "secret", "curve_secretkey": "x" * 40}
    assert _decrypt(seal(info, request.public_key)) == info


# --- the process -----------------------------------------------------------------------------


def _launch(arguments: list[str], folder: Path) -> subprocess.Popen[str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("KERNEL_ID", "RESPONSE_ADDRESS", "PUBLIC_KEY", "PORT_RANGE")
    }
    env.update(IPYTHONDIR=str(folder / "ipython"), PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "async_kernel", "launch", *arguments]
    return subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)


def test_missing_arguments_exit_with_status_2(tmp_path: Path) -> None:
    process = _launch(["--kernel-id", "k"], tmp_path)
    _, error = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 2
    assert "--response-address" in error
    assert "--public-key" in error


def test_an_unreachable_response_address_is_an_error_not_a_waiting_kernel(tmp_path: Path) -> None:
    """Nobody listens there: the launcher says so and exits 1 instead of serving a lost kernel."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    process = _launch(_arguments(response_address=f"127.0.0.1:{port}"), tmp_path)
    _, error = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 1
    assert f"cannot send the connection information to the response address 127.0.0.1:{port}" in (
        error
    )


def test_a_silent_response_address_is_an_error_after_the_timeout(tmp_path: Path) -> None:
    """A provisioner that never answers (its listen queue full): exit 1, not a hidden kernel."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)  # never accepted: a queue of one, then SYNs are dropped
        port = server.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
            arguments = _arguments(response_address=f"127.0.0.1:{port}")
            process = _launch([*arguments, "--response-timeout", "1"], tmp_path)
            _, error = process.communicate(timeout=TIMEOUT)
        finally:
            for filler in fillers:
                filler.close()
    assert process.returncode == 1
    assert f"response address 127.0.0.1:{port}: timed out" in error


def test_a_port_range_without_enough_free_ports_is_an_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        low = taken.getsockname()[1]
        if low + 5 > 65535:
            pytest.skip("the taken port is at the top of the range")
        process = _launch(_arguments(port_range=f"{low}..{low + 5}"), tmp_path)
        _, error = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 1
    assert f"of the 6 free ports needed in --port-range {low}..{low + 5}" in error


class Provisioner:
    """The provisioner's side: a response socket, and requests on the communication port."""

    def __init__(self) -> None:
        self.response = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.response.getsockname()[1]}"

    def receive_connection_info(self) -> dict[str, Any]:
        self.response.settimeout(TIMEOUT)
        connection, _ = self.response.accept()
        with connection:
            connection.settimeout(TIMEOUT)
            data = b""
            while chunk := connection.recv(4096):
                data += chunk
        return _decrypt(data)

    @staticmethod
    def request(port: int, content: bytes) -> bool:
        """Send one request as the provisioner does; False when nobody listens."""
        with socket.socket() as connection:
            if connection.connect_ex(("127.0.0.1", port)) != 0:
                return False
            connection.sendall(content)
        return True


@pytest.fixture
def provisioner() -> Iterator[Provisioner]:
    provisioner = Provisioner()
    yield provisioner
    provisioner.response.close()


@pytest.mark.cluster
@pytest.mark.parametrize("encryption", ["", "required"])
def test_launched_kernel_serves_and_answers_the_communication_port(
    tmp_path: Path, provisioner: Provisioner, encryption: str
) -> None:
    """Ports in the range, Curve keys when asked; signal 0 polls, SIGTERM ends it all."""
    low = 42000 + (os.getpid() % 500) * 40  # a range of its own per test worker
    arguments = _arguments(
        response_address=provisioner.address,
        port_range=f"{low}..{low + 39}",
        transport_encryption=encryption,
    )
    process = _launch(arguments, tmp_path)
    try:
        info = provisioner.receive_connection_info()
        assert info["pid"] == process.pid
        assert info["kernel_id"] == "5c6d1f9e-0000-4000-8000-000000000001"
        assert info["ip"] == "0.0.0.0"
        ports = [info[f"{name}_port"] for name in ("shell", "iopub", "stdin", "control", "hb")]
        assert all(low <= port <= low + 39 for port in [*ports, info["comm_port"]])
        assert ("curve_publickey" in info) == (encryption == "required")

        client = BlockingKernelClient()
        connection: Any = dict(info, ip="127.0.0.1")  # the launcher's extras ride along
        client.load_connection_info(connection)
        client.start_channels(hb=False)
        try:
            client.wait_for_ready(timeout=TIMEOUT)
            reply = client.execute_interactive("x = 6 * 7", timeout=TIMEOUT)
            assert reply["content"]["status"] == "ok"
        finally:
            client.stop_channels()

        comm_port = info["comm_port"]
        # Requests it cannot use are ignored; it goes on answering.
        assert provisioner.request(comm_port, b"not json")
        assert provisioner.request(comm_port, json.dumps({"signum": "nine"}).encode())
        assert provisioner.request(comm_port, json.dumps({"signum": 0}).encode())
        assert process.poll() is None
        assert provisioner.request(comm_port, json.dumps({"signum": signal.SIGTERM}).encode())
        process.wait(timeout=TIMEOUT)
        assert process.returncode == 0  # SIGTERM is a clean shutdown
        # The listener left with the kernel: the provisioner's next poll is refused.
        assert not provisioner.request(comm_port, json.dumps({"signum": 0}).encode())
        for port in ports:
            assert not provisioner.request(port, b""), f"port {port} still listens"
    finally:
        if process.poll() is None:
            process.kill()
        _, error = process.communicate(timeout=TIMEOUT)
    assert "Traceback" not in error, error
