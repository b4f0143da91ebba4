"""The kernel: owns the transport, the shell and the handlers, and sends every message.

Threads (see DESIGN.md section 3): the main thread runs the main shell's event loop and its
Caller (signals live there); the control thread has a Caller of its own, and so does each
subshell; the IO thread owns the sockets (``_zmq_transport``); worker threads run
``thread``-mode handlers.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

import anyio

from async_caller import Caller, CallerStoppedError, threads_available

from ._dispatcher import Dispatcher, Handler, reply_type
from ._exceptions import InvalidMessageError
from ._ipykernel_compat import IPyKernelCompat
from ._version import __version__
from .debugger._debugger import Debugger
from .handlers._comms import CommHandler, CommManager, install_comm_hooks
from .handlers._execute import ExecuteHandler
from .handlers._introspection import IntrospectionHandler
from .handlers._subshell_magics import SubshellMagics
from .handlers._subshells import Subshells
from .handlers._usage import UsageHandler
from .messaging._codec import MessageCodec
from .messaging._message import PROTOCOL_VERSION, Channel, Message, MessageFactory
from .runtime._interrupts import InterruptController
from .runtime._task_interrupts import TaskInterruptController
from .shell._context import current_request, install_thread_context_inheritance
from .shell._gui import GuiManager
from .shell._history import end_history
from .shell._iostream import OutStream
from .shell._library_compat import install_library_compat
from .shell._shell import KernelShell, load_python_lexer
from .shell._startup import run_startup
from .shell._stdin import StdinBridge
from .shell._system import PackageMagics, TopLevelCommands
from .shell._warm_up import warm_up_tracebacks

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .messaging._connection import ConnectionInfo
    from .messaging._transport import Transport, TransportFactory
    from .shell._config import KernelConfig

__all__ = ["Kernel"]

log = logging.getLogger("async_kernel")


class Kernel(IPyKernelCompat):
    """A Jupyter kernel serving one connection file.

    Create it in the main thread, install its SIGINT handler, then run :meth:`run` in the
    main thread's event loop (``_start.start_kernel`` does all three). Libraries that expect
    ipykernel's kernel object find the names they use on it (see ``_ipykernel_compat``).
    """

    def __init__(
        self,
        info: ConnectionInfo,
        *,
        backend: str = "asyncio",
        transport: TransportFactory | None = None,
        interrupts: InterruptController | None = None,
        config: KernelConfig | None = None,
        echo: bool = False,
    ) -> None:
        """Build the kernel.

        ``transport`` defaults to ZeroMQ sockets bound as ``info`` says; ``interrupts`` to
        signals and threads where threads exist, else to cancelling awaiting cells.
        ``config`` holds the settings (the shell's and the start-up code); ``echo`` also
        writes cell output to the process's own stdout and stderr (``--quiet=false``).
        """
        self.info = info
        self.config = config
        self.echo = echo
        self.backend = backend
        self.codec = MessageCodec(info.key, info.signature_scheme)
        self.factory = MessageFactory()
        self.transport: Transport
        if transport is None:
            from .messaging.zmq import ZmqTransport  # only here: pyzmq is absent in Pyodide

            self.transport = ZmqTransport(info, self._on_frames)
        else:
            self.transport = transport(self._on_frames)
        if interrupts is None:
            threads = threads_available()
            interrupts = InterruptController() if threads else TaskInterruptController()
        self.interrupts = interrupts
        self.stdin = StdinBridge(self)
        self._execute = ExecuteHandler(self)
        self._introspection = IntrospectionHandler(self)
        self.comm_manager = CommManager(self)
        self.subshells = Subshells(self)
        self.gui = GuiManager(self)
        comms = CommHandler(self)
        self.debugger = Debugger(self)
        handlers: dict[str, Handler] = {
            "kernel_info_request": self.kernel_info_request,
            "interrupt_request": self.interrupt_request,
            "shutdown_request": self.shutdown_request,
            "execute_request": self._execute.execute_request,
            "complete_request": self._introspection.complete_request,
            "inspect_request": self._introspection.inspect_request,
            "is_complete_request": self._introspection.is_complete_request,
            "history_request": self._introspection.history_request,
            "comm_open": comms.comm_open,
            "comm_msg": comms.comm_msg,
            "comm_close": comms.comm_close,
            "comm_info_request": comms.comm_info_request,
            "debug_request": self.debugger.debug_request,
            "create_subshell_request": self.subshells.create_subshell_request,
            "delete_subshell_request": self.subshells.delete_subshell_request,
            "list_subshell_request": self.subshells.list_subshell_request,
            "usage_request": UsageHandler(self).usage_request,
        }
        self.dispatcher = Dispatcher(self, handlers)
        super().__init__()
        self.shell: KernelShell
        self.main_caller: Caller
        self.control_caller: Caller
        self._streams: list[OutStream] = []
        self._last_execute: Message | None = None
        self._shutdown_requested: anyio.Event | None = None

    # --- lifecycle (main thread) ------------------------------------------------------------

    async def run(self) -> None:
        """Serve until a shutdown request (main thread, inside the backend's event loop)."""
        async with Caller(name="Shell") as caller:
            self.main_caller = caller
            self._shutdown_requested = anyio.Event()
            self.control_caller = Caller.start_new(backend=self.backend, name="Control")
            self._start_shell()
            load_python_lexer()
            self.transport.start()
            threads = threads_available()  # none in Pyodide: no warm-up thread, no signals
            if threads:
                caller.call_later(0.5, Caller.to_thread, warm_up_tracebacks, self.shell.colors)
            self.gui.start()  # after the transport: kernel_info need not wait for it
            if self.config is not None:
                # Before any cell, as in ipykernel: the first execute_request waits for it.
                run_startup(self.shell, self.config.config, self.config.profile_dir)
            if threads:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
                self.interrupts.watch_signals()
            try:
                await self._shutdown_requested.wait()
            finally:
                self.control_caller.stop()
                self.subshells.stop_all()
        self._stop()

    def _start_shell(self) -> None:
        install_thread_context_inheritance()
        settings: dict[str, Any] = {}
        if self.config is not None:
            settings["config"] = self.config.config
            if self.config.profile_dir is not None:
                settings["profile_dir"] = self.config.profile_dir
        self.shell = KernelShell.instance(sink=self, kernel=self, **settings)
        if not _configures(self.config, "colors"):
            self.shell.colors = "linux"
        install_comm_hooks(self)
        install_library_compat()
        self.shell.register_magics(SubshellMagics(self.shell, self.subshells))
        self.shell.register_magics(PackageMagics)
        self.shell.ast_transformers.append(TopLevelCommands())
        for name in ("stdout", "stderr"):
            original = getattr(sys, f"__{name}__")
            stream = OutStream(
                name,
                self._publish_stream,
                self.transport.call_later,
                lambda: self._last_execute,
                fileno=original.fileno() if original is not None else None,
            )
            self._streams.append(stream)
            setattr(sys, name, stream)
        self.stdin.install()

    def _stop(self) -> None:
        self.gui.stop()
        self.flush_streams()
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        self.transport.stop()
        history = self.shell.history_manager
        if history is not None:
            end_history(history)

    def request_shutdown(self, interrupt: bool = True) -> None:
        """Stop serving: interrupt running cells (unless done already), then end :meth:`run`."""
        if interrupt:
            self.debugger.resume_then(self.interrupts.interrupt)
        event = self._shutdown_requested
        if event is not None:
            with contextlib.suppress(CallerStoppedError):  # already shutting down
                self.main_caller.call_soon(event.set)

    @property
    def last_seq(self) -> int:
        """The arrival number of the latest request."""
        return self.dispatcher.last_seq

    # --- sending (any thread) ---------------------------------------------------------------

    def reply(
        self,
        request: Message,
        msg_type: str,
        content: dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Send a reply to ``request`` on the channel it came from."""
        header = self.factory.header(msg_type, request.subshell_id)
        frames = self.codec.serialize(
            header, request.header_frame or request.header, content, metadata, idents=request.idents
        )
        self.transport.send(request.channel, frames)

    def reply_error(
        self, request: Message, ename: str, evalue: str, traceback: Sequence[str] = ()
    ) -> None:
        """Send ``request``'s reply type with status ``error`` (requests only)."""
        msg_type = reply_type(request.msg_type)
        if msg_type is None:
            return
        content = {
            "status": "error",
            "ename": ename,
            "evalue": evalue,
            "traceback": list(traceback),
        }
        self.reply(request, msg_type, content, {"status": "error"})

    def publish(
        self,
        msg_type: str,
        content: dict[str, Any],
        parent: Message | None = None,
        metadata: dict[str, Any] | None = None,
        buffers: Sequence[bytes | memoryview] = (),
        *,
        urgent: bool = False,
    ) -> None:
        """Send a message on iopub, by default as a child of the current request.

        ``buffers`` are sent as extra binary frames after the content (comm messages use them);
        ``urgent`` sends it at once, not at the end of the transport's quiet window.
        """
        if parent is None:
            parent = current_request.get() or self._last_execute
        subshell_id = parent.subshell_id if parent is not None else None
        header = self.factory.header(msg_type, subshell_id)
        topic = f"kernel.{msg_type}".encode()
        frames = self.codec.serialize(
            header,
            (parent.header_frame or parent.header) if parent else None,
            content,
            metadata,
            buffers=buffers,
            idents=(topic,),
        )
        self.transport.send(Channel.iopub, frames, urgent=urgent)

    def get_parent(self, channel: str | None = None) -> dict[str, Any]:
        """The request the calling code runs for, as a message dict (empty if none).

        Libraries use it to tie output to a cell: ``ipywidgets.Output`` reads the parent's
        ``header.msg_id`` to capture the output that follows. ``channel`` (ipykernel's
        argument) is not needed: each request's code sees its own parent.
        """
        del channel
        parent = current_request.get() or self._last_execute
        if parent is None:
            return {}
        return {
            "header": parent.header,
            "parent_header": parent.parent_header,
            "metadata": parent.metadata,
            "content": parent.content,
            "msg_id": parent.msg_id,
            "msg_type": parent.msg_type,
        }

    def publish_status(self, state: str, parent: Message) -> None:
        """Send ``status`` (busy or idle) for ``parent``."""
        if state == "busy" and parent.msg_type == "execute_request":
            self._last_execute = parent
        # Idle ends a request: it takes the reply and the request's output out with it.
        self.publish("status", {"execution_state": state}, parent, urgent=state == "idle")

    def flush_streams(self) -> None:
        """Publish buffered stdout and stderr (any thread)."""
        for stream in self._streams:
            stream.flush()

    def _publish_stream(self, name: str, text: str, parent: Message | None) -> None:
        self.publish("stream", {"name": name, "text": text}, parent)
        if self.echo:  # --quiet=false: the kernel's own terminal shows the output too
            terminal = sys.__stdout__ if name == "stdout" else sys.__stderr__
            if terminal is not None:
                with contextlib.suppress(OSError, ValueError):
                    terminal.write(text)
                    terminal.flush()

    # --- receiving (IO thread) --------------------------------------------------------------

    def _on_frames(self, channel: Channel, frames: list[bytes]) -> None:
        try:
            msg = self.codec.deserialize(channel, frames)
        except InvalidMessageError as exc:
            log.warning("rejected a message on %s: %s", channel, exc)
            if exc.request is not None and channel is not Channel.stdin:
                self.dispatcher.reject(exc.request, "InvalidMessage", str(exc))
            return
        if channel is Channel.stdin:
            self.stdin.on_message(msg)
        else:
            self.note_arrival(msg)  # before dispatch: a blocked cell's poll may run it
            self.dispatcher.dispatch(msg)

    # --- handlers for small requests --------------------------------------------------------

    def kernel_info_request(self, msg: Message) -> None:
        """Reply with the kernel's identity, language and features (IO thread)."""
        self.reply(msg, "kernel_info_reply", self.kernel_info)

    @property
    def kernel_info(self) -> dict[str, Any]:
        """The content of kernel_info_reply."""
        version = ".".join(map(str, sys.version_info[:3]))
        return {
            "status": "ok",
            "protocol_version": PROTOCOL_VERSION,
            "implementation": "async_kernel",
            "implementation_version": __version__,
            "language_info": {
                "name": "python",
                "version": version,
                "mimetype": "text/x-python",
                "codemirror_mode": {"name": "ipython", "version": 3},
                "pygments_lexer": "ipython3",
                "nbconvert_exporter": "python",
                "file_extension": ".py",
            },
            "banner": f"Python {sys.version}\nasync-kernel {__version__} ({self.backend})",
            "help_links": [
                {"text": "Python Reference", "url": "https://docs.python.org/3/"},
                {"text": "IPython Reference", "url": "https://ipython.readthedocs.io/"},
            ],
            "debugger": self.debugger.available,
            "supported_features": [
                "kernel subshells",
                *(["debugger"] if self.debugger.available else []),
            ],
        }

    def interrupt_request(self, msg: Message) -> None:
        """Interrupt every running cell, blocking or awaiting (IO thread)."""
        self.debugger.resume_then(self.interrupts.interrupt)
        self.reply(msg, "interrupt_reply", {"status": "ok"})

    def shutdown_request(self, msg: Message) -> None:
        """Reply, then shut down; the client restarts the process when ``restart`` is true."""
        restart = bool(msg.content.get("restart", False))
        self.reply(msg, "shutdown_reply", {"status": "ok", "restart": restart})
        self.request_shutdown()


def _configures(config: KernelConfig | None, trait: str) -> bool:
    """Whether the settings give the shell's ``trait`` a value."""
    if config is None:
        return False
    sections = ("InteractiveShell", "KernelShell")
    return any(trait in config.config.get(section, {}) for section in sections)


def main_thread_only() -> None:
    """Fail fast when the kernel is started outside the main thread (signals need it)."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("the kernel must be started in the main thread")
