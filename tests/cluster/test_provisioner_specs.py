"""``async-kernel install --provisioner``: specs Gateway Provisioners can start, both backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager

from async_kernel.cli._main import main


def _specs(prefix: Path) -> KernelSpecManager:
    return KernelSpecManager(kernel_dirs=[str(prefix / "share" / "jupyter" / "kernels")])


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_distributed_spec_runs_the_launcher(tmp_path: Path, backend: str) -> None:
    assert (
        main(
            [
                "install",
                "--provisioner",
                "distributed",
                "--backend",
                backend,
                "--prefix",
                str(tmp_path),
                "--remote-hosts",
                "host-a,host-b",
            ]
        )
        is None
    )
    name = "async-distributed" if backend == "asyncio" else "async-distributed-trio"
    spec = _specs(tmp_path).get_kernel_spec(name)
    assert spec.argv[1:4] == ["-m", "async_kernel", "launch"]
    for placeholder in (
        "kernel_id",
        "response_address",
        "public_key",
        "port_range",
        "transport_encryption",
    ):
        assert f"{{{placeholder}}}" in spec.argv
    assert ("--backend" in spec.argv) == (backend != "asyncio")
    assert spec.interrupt_mode == "signal"
    assert spec.metadata["supported_encryption"] == ["curve"]
    provisioner = spec.metadata["kernel_provisioner"]
    assert provisioner["provisioner_name"] == "distributed-provisioner"
    assert provisioner["config"]["remote_hosts"] == ["host-a", "host-b"]


@pytest.mark.parametrize("provisioner", ["kubernetes", "docker"])
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_container_spec_names_the_image_and_backend(
    tmp_path: Path, provisioner: str, backend: str
) -> None:
    """argv runs the provisioners' own script, which starts the image; the backend rides in env."""
    image = "registry.example/async-kernel:0.1"
    assert (
        main(
            [
                "install",
                "--provisioner",
                provisioner,
                "--backend",
                backend,
                "--image",
                image,
                "--name",
                "k",
                "--prefix",
                str(tmp_path),
            ]
        )
        is None
    )
    spec = _specs(tmp_path).get_kernel_spec("k")
    assert Path(spec.argv[1]).is_file()
    assert Path(spec.argv[1]).name == f"launch_{provisioner}.py"
    assert "{response_address}" in spec.argv
    config = spec.metadata["kernel_provisioner"]
    assert config["provisioner_name"] == f"{provisioner}-provisioner"
    assert config["config"]["image_name"] == image
    assert spec.env == {"ASYNC_KERNEL_BACKEND": backend}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--provisioner", "kubernetes"], "needs --image"),
        (["--provisioner", "distributed", "--image", "x"], "only for the kubernetes and docker"),
        (
            ["--provisioner", "docker", "--image", "x", "--remote-hosts", "h"],
            "only for the distrib",
        ),
        (["--provisioner", "distributed", "--backend", "nope"], "no kernel backend named 'nope'"),
        (["--provisioner", "distributed", "--name", "../x"], "invalid kernel spec name"),
        (["--provisioner", "distributed", "--env", "NOEQUALS"], "--env expects KEY=VALUE"),
    ],
)
def test_bad_requests_exit_with_status_2(
    tmp_path: Path, arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["install", *arguments, "--prefix", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "share" / "jupyter" / "kernels").exists() or not any(
        (tmp_path / "share" / "jupyter" / "kernels").iterdir()
    )


def test_a_spec_of_another_kernel_is_never_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "share" / "jupyter" / "kernels" / "python3"
    foreign.mkdir(parents=True)
    (foreign / "kernel.json").write_text(json.dumps({"argv": ["ipykernel"], "language": "python"}))
    arguments = ["install", "--provisioner", "distributed", "--name", "python3"]
    assert main([*arguments, "--prefix", str(tmp_path)]) == 1
    assert "did not write for a provisioner" in capsys.readouterr().err
    assert json.loads((foreign / "kernel.json").read_text())["argv"] == ["ipykernel"]
    # Ours is replaced, with the new settings.
    assert main(["install", "--provisioner", "distributed", "--prefix", str(tmp_path)]) is None
    assert (
        main(
            [
                "install",
                "--provisioner",
                "distributed",
                "--prefix",
                str(tmp_path),
                "--launch-timeout",
                "90",
            ]
        )
        is None
    )
    spec = _specs(tmp_path).get_kernel_spec("async-distributed")
    assert spec.metadata["kernel_provisioner"]["config"]["launch_timeout"] == 90
