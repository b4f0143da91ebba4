"""Naming cells after the hash of their code, so a debugger can map them to source files.

JupyterLab's debugger finds a cell's source file without asking the kernel: it hashes the
cell's text with MurmurHash2 (UTF-8 bytes, the seed from ``debugInfo``) and puts the number
between ``tmpFilePrefix`` and ``tmpFileSuffix``. The kernel compiles every cell under that same
path (:class:`CellCompiler`), so breakpoints set on the path hit when the cell runs, and
``dumpCell`` writes the code to the path so the debugger can show it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from array import array
from pathlib import Path

from IPython.core.compilerop import CachingCompiler

__all__ = ["MAX_HASHED_CELL", "CellCompiler", "CellFiles", "cell_files", "murmur2"]

HASH_SEED = 0x5EED_CE11
"""Seed for the cell hash; any fixed 32-bit number works, the frontend reads it from debugInfo."""

MAX_HASHED_CELL = 256 * 1024
"""Cells longer than this (in characters) keep IPython's name: hashing costs ~0.2 s per MB."""

_MASK = 0xFFFF_FFFF
_MULTIPLIER = 0x5BD1_E995


def murmur2(text: str, seed: int) -> int:
    """The 32-bit MurmurHash2 of ``text``'s UTF-8 bytes, as JupyterLab's debugger computes it."""
    data = text.encode()
    length = len(data)
    whole = length - length % 4
    value = (seed ^ length) & _MASK
    multiplier = _MULTIPLIER
    for word in _little_endian_words(data[:whole]):
        mixed = (word * multiplier) & _MASK
        value = ((value * multiplier) ^ ((mixed ^ (mixed >> 24)) * multiplier)) & _MASK
    tail = data[whole:]
    if tail:
        value ^= int.from_bytes(tail, "little")
        value = (value * multiplier) & _MASK
    value ^= value >> 13
    value = (value * multiplier) & _MASK
    value ^= value >> 15
    return value


def _little_endian_words(data: bytes) -> array[int]:
    words = array("I", data)  # 4-byte items on every platform CPython supports
    if sys.byteorder == "big":
        words.byteswap()
    return words


class CellFiles:
    """Where the source file of each cell lives: one folder per kernel process."""

    def __init__(self, folder: Path, seed: int = HASH_SEED) -> None:
        self.folder = folder
        self.seed = seed
        self.prefix = f"{folder}{os.sep}"
        self.suffix = ".py"
        self._cleanup_registered = False

    def path_for(self, code: str) -> str:
        """The file name a cell with this code is compiled under."""
        return f"{self.prefix}{murmur2(code, self.seed)}{self.suffix}"

    def is_cell(self, path: str) -> bool:
        """Whether ``path`` names a cell (rather than a module on disk)."""
        return path.startswith(self.prefix) and path.endswith(self.suffix)

    def dump(self, code: str) -> str:
        """Write the cell's code to its file and return the path (any thread)."""
        path = Path(self.path_for(code))
        if not self._cleanup_registered:
            self._cleanup_registered = True
            atexit.register(self.remove)
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_text(code, encoding="utf-8")
        partial.replace(path)  # readers never see a half-written file
        return str(path)

    def remove(self) -> None:
        """Delete the folder and the cells dumped into it (at exit, once something was dumped)."""
        shutil.rmtree(self.folder, ignore_errors=True)


cell_files = CellFiles(Path(tempfile.gettempdir()) / f"async_kernel_{os.getpid()}")
"""The cell files of this kernel process."""


class CellCompiler(CachingCompiler):
    """IPython's compiler, naming each cell after the hash of its raw code.

    Tracebacks still read ``Cell In[n]``: IPython maps the name back through its filename map.
    Cells over :data:`MAX_HASHED_CELL` keep IPython's own name, so the debugger cannot stop in
    them; hashing a huge cell on every run would cost seconds.

    When ``IPYKERNEL_CELL_NAME`` is set (nbclient and nbval set it for tracebacks that do not
    change between runs), every cell gets that name, as in ipykernel; the debugger then cannot
    tell cells apart.
    """

    def get_code_name(self, raw_code: str, transformed_code: str, number: int) -> str:
        """The cell's file name: the same path ``dumpCell`` writes for this code."""
        fixed_name = os.environ.get("IPYKERNEL_CELL_NAME")
        if fixed_name:
            return fixed_name
        if len(raw_code) > MAX_HASHED_CELL:
            return super().get_code_name(raw_code, transformed_code, number)
        return cell_files.path_for(raw_code)
