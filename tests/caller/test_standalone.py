"""async-caller stands alone: it imports and runs with no Jupyter package, and declares what
it imports."""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import async_caller

PACKAGE = Path(async_caller.__file__).parent

JUPYTER = ("IPython", "ipykernel", "jupyter_client", "jupyter_core", "traitlets", "zmq", "comm")

# Run in a fresh interpreter where importing any Jupyter package fails, as if none were installed.
BLOCKED_RUN = f"""
import sys
from importlib.abc import MetaPathFinder

class NoJupyter(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {JUPYTER!r} or name.startswith("async_kernel"):
            raise ImportError(f"{{name}} is blocked: async-caller must not need it")
        return None

sys.meta_path.insert(0, NoJupyter())

import anyio
from async_caller import Caller

async def where():
    return Caller().backend

for backend in ("asyncio", "trio"):
    worker = Caller("NewThread", backend=backend)
    print(worker.call_soon(where).wait_sync(10), worker.to_thread(sum, [1, 2]).wait_sync(10))
    worker.stop()
print(anyio.run(where), sorted(n for n in sys.modules if n.split(".")[0] in {JUPYTER!r}))
"""


def test_runs_with_no_jupyter_package() -> None:
    """Importing and using async_caller, on both backends, touches no Jupyter package."""
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED_RUN],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["asyncio 3", "trio 3", "asyncio []"]


def test_every_imported_package_is_a_declared_dependency() -> None:
    """What the modules import from outside the standard library is in the requirements."""
    imported: set[str] = set()
    for module in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {name for name in imported if name not in sys.stdlib_module_names}
    third_party.discard("async_caller")
    requirements = importlib.metadata.requires("async-caller") or []
    declared = {requirement.split(">")[0].split(";")[0].strip() for requirement in requirements}
    assert third_party <= declared, third_party - declared
    assert not declared & {name.lower() for name in JUPYTER}
