"""Comms: the kernel's side of the ``comm_*`` messages, plugged into the ``comm`` package.

Libraries such as ipywidgets never import the kernel: they call ``comm.create_comm`` and
``comm.get_comm_manager``. :func:`install_comm_hooks` points both at this kernel when the shell
starts, so any comm a library opens is a :class:`Comm` that publishes on iopub, and targets
registered through either name land in the one :class:`CommManager`
(``get_ipython().kernel.comm_manager``).

Which thread runs what (docs/architecture.md):

- ``comm_open`` and ``comm_info_request`` run ``direct``, in the IO thread: they are short,
  and running the target's callback before the next message is even decoded guarantees that
  a ``comm_msg`` sent right after the open finds its comm. Keep target callbacks quick (they
  usually just call ``comm.on_msg``); the IO thread sends and receives nothing while one runs.
- ``comm_msg`` and ``comm_close`` are ``queue`` mode: the event loop of the shell's Caller
  (the control Caller for messages on control) runs them, one at a time per message type, in
  a queue of their own. So a widget's ``on_msg`` and ``observe`` callbacks run in the main
  thread's loop *while a cell awaits*, and a cell that awaits a widget event completes
  instead of deadlocking. A cell that blocks the loop without awaiting (``time.sleep``)
  holds comm messages back until it ends; run such a cell as ``# thread`` instead.
  ``comm_close`` is queued rather than direct (a change from the design table) so that it
  does not overtake the comm's own ``comm_msg`` messages still in the queue.
- Comms created by a cell publish from whichever thread the cell code runs in.

Subshells: JupyterLab 4.4+ sends each comm target's messages through a subshell of their own
(``commsOverSubshells``). A comm's ``comm_msg`` and ``comm_close`` still run in the shell that
owns the comm, whichever subshell they arrive through: the subshell whose code created it, or
the main shell for comms created there or opened by the frontend. So widget callbacks run
where the widget's code lives: a main-shell cell that awaits a widget event completes, and
callbacks never race the main shell's cells (matplotlib, for one, is not thread-safe). The
requests keep their own parent header, subshell id included. To keep widgets responsive while
a long computation runs, run the computation as a ``# thread`` cell or in a subshell.

Thread safety and order: the registry of comms and targets is guarded by a lock, and each
comm publishes under its own lock, so one comm's messages leave the kernel in the order its
``send`` calls happened even when several threads share it. Incoming messages of one comm
arrive in order because each channel's comm messages go through one FIFO. A ``comm_msg`` that
arrived before its comm's ``comm_close`` is still delivered if the close happened to be
handled first (trio may run the two queues' workers in either order).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

import comm
from comm.base_comm import BaseComm, BuffersType, CommTargetCallback, MaybeDict
from comm.base_comm import CommManager as BaseCommManager

from ..shell._subshell import current_subshell

if TYPE_CHECKING:
    from collections.abc import Callable

    from IPython.core.events import EventManager

    from ..messaging._message import Message
    from ..shell._subshell import Subshell
    from ._protocols import Sender

__all__ = ["Comm", "CommHandler", "CommManager", "install_comm_hooks"]

log = logging.getLogger(__name__)

_CLOSED_REMEMBERED = 1000
"""How many closed comms to remember, to deliver messages that raced their close."""


class Comm(BaseComm):
    """A comm whose messages go out on the kernel's iopub channel, with binary buffers.

    Create comms with ``comm.create_comm(...)`` so the code also runs under other kernels.
    """

    def __init__(self, *args: Any, sender: Sender, events: EventManager, **kwargs: Any) -> None:
        # Set before BaseComm.__init__, which publishes comm_open for a primary comm.
        self._sender = sender
        self._events = events
        self.kernel: object = sender
        """Not None: ipywidgets only sends on a comm whose ``kernel`` is set."""
        self.home: Subshell | None = current_subshell.get()
        """The subshell whose event loop runs this comm's callbacks; None for the main shell."""
        self._publish_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: MaybeDict = None,
        metadata: MaybeDict = None,
        buffers: BuffersType = None,
        **keys: Any,
    ) -> None:
        """Publish ``comm_open``, ``comm_msg`` or ``comm_close`` for this comm (any thread).

        The parent is the request the calling code runs for (a cell, or the comm message
        being handled), so frontends attach the message to the right output area.
        """
        content = {"data": data if data is not None else {}, "comm_id": self.comm_id, **keys}
        with self._publish_lock:
            self._sender.publish(msg_type, content, metadata=metadata, buffers=buffers or ())

    def handle_msg(self, msg: dict[str, Any]) -> None:
        """Call the ``on_msg`` callback between the shell's pre/post_execute events.

        What ``BaseComm.handle_msg`` does, but with the kernel's own shell: the base class
        imports ``get_ipython`` from IPython for every message, which goes through IPython's
        lazy module ``__getattr__`` and the import system (~10% of a comm echo's time).
        """
        callback = self._msg_callback
        if callback is None:
            return
        events = self._events
        events.trigger("pre_execute")
        callback(msg)
        events.trigger("post_execute")


class CommManager(BaseCommManager):
    """The kernel's registry of open comms and comm targets; safe to use from any thread."""

    def __init__(self, sender: Sender, events: EventManager) -> None:
        super().__init__()
        self.sender = sender
        self.events = events
        self._lock = threading.RLock()
        self._closed: dict[str, tuple[BaseComm, int]] = {}
        """Recently closed comms and the arrival number of their close, newest last."""

    def new_comm(self, *args: Any, **kwargs: Any) -> Comm:
        """A comm that sends through this manager's kernel (``comm.create_comm`` calls this)."""
        return Comm(*args, sender=self.sender, events=self.events, **kwargs)

    def register_target(self, target_name: str, f: CommTargetCallback | str) -> None:
        """Call ``f(comm, msg)`` when the frontend opens a comm with ``target_name``.

        ``f`` may be a callable or the dotted import path of one.
        """
        with self._lock:
            super().register_target(target_name, f)

    def unregister_target(self, target_name: str, f: CommTargetCallback) -> CommTargetCallback:
        """Forget the callback of ``target_name``; later opens of it are refused."""
        with self._lock:
            return super().unregister_target(target_name, f)

    def get_target(self, target_name: str) -> CommTargetCallback | None:
        """The callback registered for ``target_name``, if any."""
        with self._lock:
            return self.targets.get(target_name)

    def register_comm(self, comm: BaseComm) -> str:
        """Add an open comm; returns its id."""
        with self._lock:
            self._closed.pop(comm.comm_id, None)
            return super().register_comm(comm)

    def unregister_comm(self, comm: BaseComm) -> None:
        """Remove a comm; a comm that is already gone is ignored (closing twice is harmless)."""
        with self._lock:
            self.comms.pop(comm.comm_id, None)

    def get_comm(self, comm_id: str) -> BaseComm | None:
        """The open comm with ``comm_id``, or None (logged) if there is none."""
        with self._lock:
            return super().get_comm(comm_id)

    def home_of(self, comm_id: object) -> Subshell | None:
        """The subshell that runs callbacks of comm ``comm_id``; None for the main shell."""
        with self._lock:
            comm = self.comms.get(comm_id) if isinstance(comm_id, str) else None
        home = getattr(comm, "home", None)
        return None if home is None or home.deleted else home

    def open_comms(self, target_name: str | None = None) -> dict[str, str]:
        """Map the id of each open comm (of ``target_name`` only, if given) to its target."""
        with self._lock:
            return {
                comm_id: comm.target_name
                for comm_id, comm in self.comms.items()
                if target_name is None or comm.target_name == target_name
            }

    def close_from_frontend(self, comm_id: str, seq: int) -> BaseComm | None:
        """Remove the comm the frontend closed and remember it; None if it was not open."""
        with self._lock:
            comm = self.comms.pop(comm_id, None)
            if comm is None:
                return None
            comm._closed = True  # the peer is gone: never send comm_close back
            self._closed[comm_id] = (comm, seq)
            while len(self._closed) > _CLOSED_REMEMBERED:
                del self._closed[next(iter(self._closed))]
            return comm

    def comm_for_message(self, comm_id: str, seq: int) -> BaseComm | None:
        """The comm a message with arrival number ``seq`` is for, or None (logged).

        A comm closed by a message that arrived *after* ``seq`` still receives it.
        """
        with self._lock:
            comm = self.comms.get(comm_id)
            if comm is not None:
                return comm
            closed = self._closed.get(comm_id)
            if closed is not None and seq < closed[1]:
                return closed[0]
        log.warning("comm_msg for unknown comm %r ignored", comm_id)
        return None


def install_comm_hooks(manager: CommManager) -> Callable[[], None]:
    """Make ``comm.create_comm`` and ``comm.get_comm_manager`` use ``manager``.

    The ``comm`` package exists to be patched this way: it documents both functions as
    meant to be replaced by the running kernel. Returns the function that puts the previous
    ones back (the kernel stopped).
    """
    previous = comm.create_comm, comm.get_comm_manager

    def create_comm(*args: Any, **kwargs: Any) -> Comm:
        return manager.new_comm(*args, **kwargs)

    def get_comm_manager() -> CommManager:
        return manager

    comm.create_comm = create_comm
    comm.get_comm_manager = get_comm_manager

    def restore() -> None:
        comm.create_comm, comm.get_comm_manager = previous

    return restore


def message_dict(msg: Message) -> dict[str, Any]:
    """The message in the dict form comm callbacks expect (as jupyter_client builds it)."""
    return {
        "header": msg.header,
        "msg_id": msg.msg_id,
        "msg_type": msg.msg_type,
        "parent_header": msg.parent_header,
        "metadata": msg.metadata,
        "content": msg.content,
        "buffers": msg.buffers,
    }


class CommHandler:
    """Handlers for comm_open, comm_msg, comm_close and comm_info_request."""

    def __init__(self, manager: CommManager) -> None:
        self._manager = manager

    def comm_open(self, msg: Message) -> None:
        """Open a comm the frontend asked for and call its target (IO thread).

        An unknown target, or a target callback that raises, is logged and answered with
        ``comm_close``, as the messaging specification asks.
        """
        comm_id, target_name = msg.content.get("comm_id"), msg.content.get("target_name")
        if not isinstance(comm_id, str) or not isinstance(target_name, str):
            log.warning("comm_open without a string comm_id and target_name ignored")
            return
        callback = self._manager.get_target(target_name)
        if callback is None:
            log.error("comm_open for unknown target %r; closing comm %r", target_name, comm_id)
            self._manager.sender.publish("comm_close", {"comm_id": comm_id, "data": {}})
            return
        new = self._manager.new_comm(comm_id=comm_id, primary=False, target_name=target_name)
        new.home = None  # the frontend opened it: the main shell runs it, as without subshells
        self._manager.register_comm(new)
        try:
            callback(new, message_dict(msg))
        except Exception:
            log.exception("comm target %r failed to open comm %r; closing it", target_name, comm_id)
            new.close()

    def comm_msg(self, msg: Message) -> None:
        """Pass a comm_msg to its comm's ``on_msg`` callback (the channel's event loop)."""
        comm_id = msg.content.get("comm_id")
        if not isinstance(comm_id, str):
            log.warning("comm_msg without a string comm_id ignored")
            return
        target = self._manager.comm_for_message(comm_id, msg.seq)
        if target is None:
            return
        try:
            target.handle_msg(message_dict(msg))
        except Exception:
            log.exception("comm_msg callback of comm %r failed", comm_id)

    def comm_close(self, msg: Message) -> None:
        """Forget a comm the frontend closed and call its ``on_close`` callback."""
        comm_id = msg.content.get("comm_id")
        if not isinstance(comm_id, str):
            log.warning("comm_close without a string comm_id ignored")
            return
        closed = self._manager.close_from_frontend(comm_id, msg.seq)
        if closed is None:
            log.warning("comm_close for unknown comm %r ignored", comm_id)
            return
        try:
            closed.handle_close(message_dict(msg))
        except Exception:
            log.exception("comm_close callback of comm %r failed", comm_id)

    def comm_info_request(self, msg: Message) -> None:
        """Reply with the open comms, only those of ``target_name`` if it is given (IO thread)."""
        target_name = msg.content.get("target_name")
        if not isinstance(target_name, str):
            target_name = None
        comms = {
            comm_id: {"target_name": name}
            for comm_id, name in self._manager.open_comms(target_name).items()
        }
        self._manager.sender.reply(msg, "comm_info_reply", {"status": "ok", "comms": comms})
