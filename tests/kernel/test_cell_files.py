"""Tests for async_kernel.shell._cell_files: the hash-named files the debugger maps cells to."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from async_kernel.shell._shell import (
    MAX_HASHED_CELL,
    CellCompiler,
    CellFiles,
    cell_files,
    murmur2,
)

if TYPE_CHECKING:
    from pathlib import Path

SEED = 0x5EEDCE11


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Computed with a JavaScript MurmurHash2 over TextEncoder bytes, as JupyterLab does.
        ("", 306194795),
        ("a", 2296817358),
        ("ab", 1397252014),
        ("abc", 1223528625),
        ("abcd", 3426985779),
        ("a = 10\nb = a + 1\nc = b * 2\nprint(c)\n", 2822486343),
        ("héllo ✓ 日本", 1135821090),
    ],
)
def test_murmur2_matches_the_frontends_hash(text: str, expected: int) -> None:
    assert murmur2(text, SEED) == expected


def test_dump_writes_the_code_at_its_path(tmp_path: Path) -> None:
    files = CellFiles(tmp_path / "cells")
    code = "x = 1\n"
    path = files.dump(code)
    assert path == f"{tmp_path / 'cells'}/{murmur2(code, files.seed)}.py"
    assert files.is_cell(path)
    assert not files.is_cell(str(tmp_path / "module.py"))
    with open(path, encoding="utf-8") as file:
        assert file.read() == code
    assert files.dump(code) == path  # dumping again is harmless
    files.remove()
    assert not (tmp_path / "cells").exists()


def test_cells_compile_under_their_file_name() -> None:
    compiler = CellCompiler()
    name = compiler.cache("y = 2\n", 7, raw_code="y = 2\n")
    assert name == cell_files.path_for("y = 2\n")
    code = compiler("y = 2\n", name, "exec")
    assert code.co_filename == name


def test_huge_cells_keep_ipythons_name() -> None:
    """Hashing a huge cell on every run would cost seconds, so it is not named by its hash."""
    code = "x = 1\n" * (MAX_HASHED_CELL // 6 + 1)
    name = CellCompiler().cache(code, 8, raw_code=code)
    assert not cell_files.is_cell(name)
