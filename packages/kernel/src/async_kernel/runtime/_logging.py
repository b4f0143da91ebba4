"""The kernel process's one logging set-up: its own stderr, which the frontend's log shows."""

from __future__ import annotations

import logging
import sys

__all__ = ["configure_logging"]

FORMAT = "[async-kernel %(levelname)s %(name)s] %(message)s"


def configure_logging(level: str = "WARNING") -> None:
    """Log at ``level`` and above to the process's real stderr (not the cell's iopub stream)."""
    logging.basicConfig(level=level.upper(), stream=sys.__stderr__, format=FORMAT)
