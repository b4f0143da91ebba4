"""The kernel: the composition root that builds every part and wires them together.

Only this module knows every part. Handlers get the narrow collaborators they use (the
:class:`Outbox` that sends, the shell, the interrupt controller), never the kernel; see
``docs/architecture.md`` for the layers and the threads.

Threads: the main thread runs the main shell's event loop and its Caller (signals live
there); the control thread has a Caller of its own, and so does each subshell; the transport
owns its IO thread (``messaging.zmq``); worker threads run ``thread``-mode handlers.
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

from ._dispatcher import Dispatcher, Handler
from ._ipykernel_compat import IPyKernelCompat
from .debugger._debugger import Debugger
from .handlers._comms import CommHandler, CommManager, install_comm_hooks
from .handlers._execute import ExecuteHandler
from .handlers._introspection import IntrospectionHandler
from .handlers._kernel_magics import ConnectionDetails, KernelMagics
from .handlers._lifecycle import LifecycleHandler, kernel_info
from .handlers._subshell_magics import SubshellMagics
from .handlers._subshells import Subshells
from .handlers._usage import UsageHandler
from .messaging._codec import MessageCodec
from .messaging._message import Channel, Message, MessageFactory
from .runtime import _runner_monitor as runner_monitor
from .runtime._context import current_request, inherit_in_new_threads, restore_threads
from .runtime._interrupts import InterruptController
from .runtime._outbox import Outbox
from .runtime._own_loops import backend_hider, enable_own_loops
from .runtime._task_interrupts import TaskInterruptController
from .runtime._worker_callers import WorkerCallers
from .shell._gui import GuiManager
from .shell._history import end_history
from .shell._iostream import OutStream
from .shell._library_compat import install_library_compat, uninstall_library_compat
from .shell._shell import KernelShell, load_python_lexer
from .shell._startup import run_startup
from .shell._stdin import StdinBridge
from .shell._subshell import Subshell, current_subshell
from .shell._system import PackageMagics
from .shell._warm_up import warm_up_tracebacks

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .messaging._connection import ConnectionInfo
    from .messaging._local_routes import LocalRoutes
    from .messaging._transport import Transport, TransportFactory
    from .shell._config import KernelConfig

__all__ = ["Kernel"]

log = logging.getLogger("async_kernel")


class Kernel(IPyKernelCompat):
    """A Jupyter kernel serving one connection file.

    Create it in the main thread, install its SIGINT handler, then run :meth:`run` in the
    main thread's event loop (``_start.start_kernel`` does all three). Libraries that expect
    ipykernel's kernel object find the names they use on it (see ``_ipykernel_compat``).

    To make a custom kernel, subclass it and start it with
    ``start_kernel(connection_file, kernel_class=MyKernel)``:

    - a method named after a message type (``execute_request``, ``complete_request``...)
      handles that message instead of the built-in handler; `default_handler` gives the
      built-in one to fall back on. It runs where the message type's run mode says, and
      answers with `reply` and `publish`;
    - `shell_class` is the IPython shell that runs cells: a subclass of `KernelShell` can,
      for example, change ``transform_cell``.
    """

    shell_class: type[KernelShell] = KernelShell
    """The IPython shell class cells run in; a subclass may set its own."""

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
        """Build the kernel and its parts (main thread, before the event loop runs).

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
        if interrupts is None:
            threads = threads_available()
            interrupts = InterruptController() if threads else TaskInterruptController()
        self.interrupts = interrupts
        self.outbox = Outbox(self.codec, self.factory)
        self.local: LocalRoutes = self.outbox.local
        """Clients in this process (``LocalClient``): their replies skip the transport."""
        self.connection_file: str | None = None
        """The connection file the kernel serves, when it was started from one."""
        self.workers: WorkerCallers = WorkerCallers(backend, lambda: self.main_caller)
        """Named worker callers (``# thread name=...`` cells, ``%thread``)."""
        self.main_caller: Caller
        self.control_caller: Caller
        self._shutdown_requested: anyio.Event | None = None
        self._restore: list[Callable[[], object]] = []

        KernelShell.clear_instance()  # a kernel that ran before in this process (tests)
        settings: dict[str, Any] = {}
        if config is not None:
            settings["config"] = config.config
            if config.profile_dir is not None:
                settings["profile_dir"] = config.profile_dir
        self.shell = self.shell_class.instance(sink=self.outbox, kernel=self, **settings)
        if not _configures(config, "colors"):
            self.shell.colors = "linux"
        outbox, shell = self.outbox, self.shell
        self.stdin = StdinBridge(outbox, interrupts)
        self.comm_manager = CommManager(outbox, shell.events)
        self.subshells = Subshells(outbox, shell, interrupts, backend)
        self.gui = GuiManager(shell, self)
        shell.gui_manager = self.gui
        self.debugger = Debugger(outbox, shell, lambda: self.control_caller)
        self.kernel_info = kernel_info(backend, debugger=self.debugger.available)
        handlers = self._handlers()
        self._default_handlers = dict(handlers)
        for msg_type in handlers:
            # A subclass's method named after a message type replaces the built-in handler.
            override = getattr(type(self), msg_type, None)
            if callable(override) and override is not getattr(Kernel, msg_type, None):
                handlers[msg_type] = getattr(self, msg_type)
        self.dispatcher = Dispatcher(
            outbox, self, handlers, backend, on_input_reply=self.stdin.on_message
        )
        # The transport hands what it receives straight to the dispatcher (its thread).
        self.transport: Transport
        if transport is None:
            from .messaging.zmq import ZmqTransport  # only here: pyzmq is absent in Pyodide

            self.transport = ZmqTransport(info, self.dispatcher.receive)
        else:
            self.transport = transport(self.dispatcher.receive)
        outbox.transport = self.transport
        super().__init__()
        self.dispatcher.on_main_shell_comm = (
            self.note_arrival
        )  # before it queues: a poll may run it

    def default_handler(self, msg_type: str) -> Handler:
        """The built-in handler of ``msg_type``, for an override that falls back on it.

        Raises:
            KeyError: the kernel has no handler for ``msg_type``.
        """
        return self._default_handlers[msg_type]

    def _handlers(self) -> dict[str, Handler]:
        """The handler of each message type. Override to replace one (a custom kernel)."""
        outbox, shell = self.outbox, self.shell
        execute = ExecuteHandler(outbox, shell, self.interrupts, self, outbox, self.workers)
        introspection = IntrospectionHandler(outbox, shell)
        comms = CommHandler(self.comm_manager)
        lifecycle = LifecycleHandler(
            outbox, self.kernel_info, self.interrupt_all, self.request_shutdown
        )
        return {
            "kernel_info_request": lifecycle.kernel_info_request,
            "interrupt_request": lifecycle.interrupt_request,
            "shutdown_request": lifecycle.shutdown_request,
            "execute_request": execute.execute_request,
            "complete_request": introspection.complete_request,
            "inspect_request": introspection.inspect_request,
            "is_complete_request": introspection.is_complete_request,
            "history_request": introspection.history_request,
            "comm_open": comms.comm_open,
            "comm_msg": comms.comm_msg,
            "comm_close": comms.comm_close,
            "comm_info_request": comms.comm_info_request,
            "debug_request": self.debugger.debug_request,
            "create_subshell_request": self.subshells.create_subshell_request,
            "delete_subshell_request": self.subshells.delete_subshell_request,
            "list_subshell_request": self.subshells.list_subshell_request,
            "usage_request": UsageHandler(outbox).usage_request,
        }

    # --- lifecycle (main thread) ------------------------------------------------------------

    async def run(self) -> None:
        """Serve until a shutdown request (main thread, inside the backend's event loop)."""
        # The kernel's own callers are protected: a cell cannot stop them by accident.
        async with Caller(name="Shell", protected=True) as caller:
            self.main_caller = caller
            self._shutdown_requested = anyio.Event()
            self.control_caller = Caller(
                "NewThread", backend=self.backend, name="Control", protected=True
            )
            self._install()
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
                self.control_caller.stop(force=True)
                self.workers.stop_all()
                self.subshells.stop_all()
                caller.stop(force=True)
        self._stop()

    def _install(self) -> None:
        """Take over what a kernel owns in its process while it serves; undone by ``_stop``."""
        inherit_in_new_threads((current_request, current_subshell))
        self._restore.append(restore_threads)
        self._restore.append(install_comm_hooks(self.comm_manager))
        install_library_compat()
        self._restore.append(uninstall_library_compat)
        # Without threads (Pyodide) an inner loop's interrupt has no thread to watch it land.
        own_loop_interrupts = self.interrupts if threads_available() else None
        self._restore.append(enable_own_loops(own_loop_interrupts, backend_hider(self.backend)))
        if runner_monitor.available():  # Python 3.12+: runners that libraries start, too
            self._restore.append(runner_monitor.RunnerMonitor().close)
        self.shell.register_magics(SubshellMagics(self.shell, self.subshells))
        self.shell.register_magics(
            KernelMagics(
                self.shell,
                connection=self._connection_details,
                workers=self.workers,
                kernel_callers=self._callers,
            )
        )
        self.shell.register_magics(PackageMagics)
        replaced = sys.stdout, sys.stderr
        self._restore.append(lambda: _restore_streams(*replaced))
        for name in ("stdout", "stderr"):
            original = getattr(sys, f"__{name}__")
            stream = OutStream(
                name,
                self._publish_stream,
                self.transport.call_later,
                lambda: self.outbox.last_execute,
                fileno=original.fileno() if original is not None else None,
                unflushed=self.outbox.unflushed,
            )
            setattr(sys, name, stream)
        self.stdin.install()
        self._restore.append(self.stdin.uninstall)

    def _connection_details(self) -> ConnectionDetails:
        """The connection file's content (with the ports bound) and its path, for magics."""
        info = self.info
        ports = getattr(self.transport, "ports", None)
        if isinstance(ports, dict) and ports:
            info = info.with_ports(ports)
        content = {
            "transport": info.transport,
            "ip": info.ip,
            "shell_port": info.shell_port,
            "iopub_port": info.iopub_port,
            "stdin_port": info.stdin_port,
            "control_port": info.control_port,
            "hb_port": info.hb_port,
            "signature_scheme": info.signature_scheme,
            "key": info.key.decode("ascii"),
            "kernel_name": info.kernel_name,
        }
        return ConnectionDetails(content, self.connection_file)

    def _callers(self) -> list[Caller]:
        """The kernel's own callers (the main shell's first); ``%callers`` adds their children."""
        callers = [self.main_caller, self.control_caller]
        for subshell_id in self.subshells.ids():
            subshell = self.subshells.get(subshell_id)
            if subshell is not None:
                callers.append(subshell.caller)
        callers.extend(self.workers.callers.values())
        return callers

    def _stop(self) -> None:
        self.gui.stop()
        self.outbox.flush_streams()
        while self._restore:
            self._restore.pop()()
        self.transport.stop()
        history = self.shell.history_manager
        if history is not None:
            end_history(history)
        KernelShell.clear_instance()

    def request_shutdown(self, interrupt: bool = True) -> None:
        """Stop serving: interrupt running cells (unless done already), then end :meth:`run`."""
        if interrupt:
            self.interrupt_all()
        event = self._shutdown_requested
        if event is not None:
            with contextlib.suppress(CallerStoppedError):  # already shutting down
                self.main_caller.call_soon(event.set)

    def interrupt_all(self) -> None:
        """Interrupt every running cell, once the debugger holds no thread (any thread)."""
        self.debugger.resume_then(self.interrupts.interrupt)

    # --- what the dispatcher and handlers ask of the kernel (any thread) ------------------------

    def subshell(self, subshell_id: str) -> Subshell | None:
        """The subshell with this id, or None."""
        return self.subshells.get(subshell_id)

    def comm_home(self, comm_id: object) -> Subshell | None:
        """The subshell that runs comm ``comm_id``'s callbacks; None for the main shell."""
        return self.comm_manager.home_of(comm_id)

    def worker(self, name: str | None, backend: str | None) -> Caller:
        """The named worker caller (``# thread name=...``), started on first use."""
        return self.workers.get(name, backend)

    def receive_local(self, channel: Channel, frames: list[bytes]) -> None:
        """Take a request from a client in this process (any thread): as if off the wire."""
        self.transport.call_soon(lambda: self.dispatcher.receive(channel, frames))

    async def received_so_far(self) -> int:
        """The arrival number of the latest request, once what waits on shell was read."""
        await self.transport.read_waiting(Channel.shell)
        return self.dispatcher.last_seq

    @property
    def last_seq(self) -> int:
        """The arrival number of the latest request."""
        return self.dispatcher.last_seq

    # --- sending (any thread): the outbox's, for code that holds the kernel ---------------------

    def reply(
        self,
        request: Message,
        msg_type: str,
        content: dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Send a reply to ``request`` on the channel it came from."""
        self.outbox.reply(request, msg_type, content, metadata)

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
        """Send a message on iopub, by default as a child of the current request."""
        self.outbox.publish(msg_type, content, parent, metadata, buffers, urgent=urgent)

    def flush_streams(self) -> None:
        """Publish buffered stdout and stderr (any thread)."""
        self.outbox.flush_streams()

    def get_parent(self, channel: str | None = None) -> dict[str, Any]:
        """The request the calling code runs for, as a message dict (empty if none).

        Libraries use it to tie output to a cell: ``ipywidgets.Output`` reads the parent's
        ``header.msg_id`` to capture the output that follows. ``channel`` (ipykernel's
        argument) is not needed: each request's code sees its own parent.
        """
        del channel
        parent = self.outbox.parent_of_current_code()
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

    def _publish_stream(self, name: str, text: str, parent: Message | None) -> None:
        self.outbox.publish("stream", {"name": name, "text": text}, parent)
        if self.echo:  # --quiet=false: the kernel's own terminal shows the output too
            terminal = sys.__stdout__ if name == "stdout" else sys.__stderr__
            if terminal is not None:
                with contextlib.suppress(OSError, ValueError):
                    terminal.write(text)
                    terminal.flush()


def _restore_streams(stdout: Any, stderr: Any) -> None:
    sys.stdout, sys.stderr = stdout, stderr


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
