"""Running a GUI toolkit's events from a task in the kernel's main event loop.

The kernel's main thread already runs an event loop (asyncio or trio) when ``%gui tk`` or
``%gui qt`` arrives, and the toolkit must live in that same thread. Neither loop can be nested in
the other without stopping it, and neither can be swapped out while cells run, so a task in the
kernel's loop hands the toolkit its pending events every :data:`PUMP_INTERVAL` seconds and
sleeps in between. Callbacks run in that task, on the main thread, between the kernel's own
work; the README's "How the loops share the main thread" has the measurements behind it.
"""

from __future__ import annotations

import contextvars
import logging
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from collections.abc import Callable

    from async_caller import Caller, Pending

__all__ = ["PUMP_INTERVAL", "EventPump"]

log = logging.getLogger("async_kernel_gui")

PUMP_INTERVAL = 0.01
"""Seconds between two rounds of toolkit events: at most this much delay for a click or timer."""


class EventPump:
    """Calls ``process_events`` (which must not block) from a task of the main Caller's loop."""

    def __init__(self, toolkit: str, process_events: Callable[[], object]) -> None:
        self._toolkit = toolkit
        self._process_events = process_events
        self._task: Pending[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the pump task is running."""
        return self._task is not None and not self._task.done()

    def start(self, caller: Caller) -> None:
        """Start the pump task in ``caller``'s loop (main thread).

        The task runs in an empty context: output of toolkit callbacks goes to the latest cell,
        not to the cell that ran ``%gui``.
        """
        if self.running:
            return
        self._task = contextvars.Context().run(caller.call_soon, self._run)

    def stop(self) -> None:
        """Cancel the pump task; the toolkit's windows stop reacting until it starts again."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()

    async def _run(self) -> None:
        reported = False
        while True:
            try:
                self._process_events()
            except Exception:
                if not reported:  # a toolkit in a bad state fails every round: say it once
                    log.exception("processing %s events failed", self._toolkit)
                    reported = True
            await anyio.sleep(PUMP_INTERVAL)
