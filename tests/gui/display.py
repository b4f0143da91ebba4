"""A private X display (Xvfb) for GUI tests, and screenshots of it.

Xvfb picks a free display number itself (``-displayfd``), so parallel test workers never
collide. Outside CI the window tests skip when Xvfb is missing; in CI (``CI`` set) they fail,
since ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
from PIL import Image

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

START_TIMEOUT = 20
TOOLS = {"Xvfb": "xvfb", "xwd": "x11-apps", "convert": "imagemagick"}


def require_tools() -> None:
    """Skip (or in CI fail) unless Xvfb and the screenshot tools are installed."""
    missing = [package for tool, package in TOOLS.items() if shutil.which(tool) is None]
    if missing:
        reason = f"GUI window tests need a virtual display: apt-get install {' '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@contextmanager
def virtual_display() -> Iterator[str]:
    """Run an Xvfb server on a free display; yield its name (``:N``)."""
    require_tools()
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "640x480x24", "-nolisten", "tcp"],
        pass_fds=[write_end],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as numbers:
            number = numbers.readline().strip()  # written once the server accepts clients
        if not number:
            pytest.fail(f"Xvfb exited with status {server.wait(START_TIMEOUT)} before starting")
        yield f":{number.decode()}"
    finally:
        server.terminate()
        server.wait(START_TIMEOUT)


def screenshot(display: str, path: Path) -> Image.Image:
    """Capture the whole display into ``path`` (PNG) and return it as an RGB image."""
    dump = subprocess.run(
        ["xwd", "-root", "-silent", "-display", display], capture_output=True, check=True
    ).stdout
    subprocess.run(["convert", "xwd:-", f"png:{path}"], input=dump, check=True)
    with Image.open(path) as image:
        return image.convert("RGB")


def colours_in(image: Image.Image, box: tuple[int, int, int, int]) -> set[tuple[int, int, int]]:
    """The distinct colours inside ``box`` (left, top, width, height)."""
    left, top, width, height = box
    region = image.crop((left, top, left + width, top + height))
    colours: set[tuple[int, int, int]] = set()
    for _, colour in region.getcolors(maxcolors=width * height) or []:
        assert isinstance(colour, tuple), "an RGB image has (r, g, b) pixels"
        red, green, blue = colour
        colours.add((red, green, blue))
    return colours
