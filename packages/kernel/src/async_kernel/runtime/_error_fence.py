"""stop_on_error for one shell: which execute requests a failed cell aborts.

Two rules, for the main shell or one subshell:

- **By arrival.** Every request the kernel had received when the cell failed (the failing cell
  first has the IO thread read what is waiting, then takes the dispatcher's count).
- **By the client's own clock.** A request that arrives later, from the same client session,
  whose header ``date`` is earlier than the failing request's ``date`` plus the time the cell
  ran before failing. Its client made it before it could have seen the error, so it would have
  waited behind the failing cell. JupyterLab's "Run All" makes every cell's request at once,
  and jupyter_server can pass some of them on after a quick failure; they must not run.
  Only dates from the same client are compared, never with the kernel's clock, so clocks
  that differ between machines do not matter. The time the request waited in the kernel
  before it started is left out, which can only spare a request, never abort a later one.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..messaging._message import Message

__all__ = ["ErrorFence", "client_date"]


def client_date(message: Message) -> datetime | None:
    """When the client made ``message`` (its header ``date``), or None if it has no usable one."""
    date = message.header.get("date")
    if isinstance(date, datetime):
        parsed = date
    elif isinstance(date, str):
        try:
            parsed = datetime.fromisoformat(date)
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class ErrorFence:
    """What the last failure of one shell aborts (shell thread of that shell)."""

    __slots__ = ("_made_before", "_session", "abort_up_to")

    def __init__(self) -> None:
        self.abort_up_to = -1
        """Requests that arrived up to this number are aborted."""
        self._session: object = None
        self._made_before: datetime | None = None

    def aborts(self, message: Message) -> bool:
        """Whether a failure before ``message`` stops it from running."""
        if message.seq <= self.abort_up_to:
            return True
        if self._made_before is None or message.header.get("session") != self._session:
            return False
        made = client_date(message)
        if made is None:
            return False
        if made < self._made_before:
            return True
        # A client's requests reach the kernel in the order it made them: from here on they
        # were all made later. Forgetting the date keeps a clock set back later from mattering.
        self._session, self._made_before = None, None
        return False

    def close(self, failed: Message, started: float, last_seq: int) -> None:
        """Record a failure of ``failed``, whose cell started at ``started`` (monotonic).

        ``last_seq`` is the number of the last request received when it failed.
        """
        self.abort_up_to = last_seq
        made = client_date(failed)
        if made is None:
            self._session, self._made_before = None, None
            return
        self._session = failed.header.get("session")
        self._made_before = made + timedelta(seconds=time.monotonic() - started)
