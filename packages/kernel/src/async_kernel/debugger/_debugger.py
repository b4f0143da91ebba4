"""The Jupyter debugger protocol (``debug_request`` on control) over debugpy.

Design: the kernel is the debug adapter between the frontend and pydevd, the debugger that
debugpy runs inside this process. On the first 'initialize', pydevd connects to the kernel
(``debugpy.connect``, see :mod:`._pydevd_link` for why not ``debugpy.listen`` and its adapter
process); a :class:`DebugpyClient` in the control thread's event loop holds that connection
for the kernel's life. Requests that pydevd understands are forwarded; the Jupyter additions
(``debugInfo``, ``dumpCell``, ``inspectVariables``, ``richInspectVariables``,
``copyToGlobals``) are answered here; pydevd's events go to iopub as ``debug_event``.

Threads: everything here runs in the control thread's loop, except :meth:`resume_then`, which
the IO thread calls. The control and IO threads are hidden from debugpy, so a breakpoint that
stops a cell (main thread, subshell or worker thread) never stops the control channel.
Variables come from the stopped frame through debugpy, so the namespace shown is that of
whichever shell ran the cell.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
import logging
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from async_caller import Caller, CallerStoppedError, threads_available

from ..shell._shell import cell_files
from ._dap import (
    DapError,
    DapMessage,
    error_response,
    identifier_argument,
    integer_argument,
    source_path_argument,
    success_response,
)
from ._debug_inspection import (
    kernel_folders,
    namespace_variables,
    rich_bundle_json,
    users_frames,
)
from ._debugpy_client import DebugpyClient, DebugpyClosedError
from ._pydevd_link import connect_pydevd

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import aiologic

    from ..messaging._message import Message
    from ..runtime._outbox import Sender
    from ..shell._shell import KernelShell

__all__ = ["Debugger"]

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 20.0
"""Seconds to wait for debugpy's answer before the frontend gets an error response."""
RESUME_TIMEOUT = 5.0
"""Seconds an interrupt waits for stopped threads to resume before it goes ahead anyway."""

_KERNEL_THREADS = ("async-kernel-", "IPythonHistorySavingThread")
"""Name prefixes of threads that serve the kernel (IO, heartbeat, history writes)."""

_FORWARDED = frozenset(
    {
        "completions",
        "continue",
        "evaluate",
        "exceptionInfo",
        "goto",
        "gotoTargets",
        "loadedSources",
        "modules",
        "next",
        "pause",
        "scopes",
        "setExceptionBreakpoints",
        "setExpression",
        "setFunctionBreakpoints",
        "setVariable",
        "stepIn",
        "stepInTargets",
        "stepOut",
        "threads",
        "variables",
    }
)
"""Standard DAP requests passed to debugpy as they are."""

_RESUMING = frozenset({"continue", "next", "stepIn", "stepOut", "goto"})
"""Requests after which debugpy runs the stopped threads again."""


class Debugger:
    """Answers ``debug_request`` messages; one per kernel."""

    def __init__(
        self, sender: Sender, shell: KernelShell, control_caller: Callable[[], Caller]
    ) -> None:
        """``control_caller`` returns the control channel's Caller once the kernel serves."""
        self._sender = sender
        self._shell = shell
        self._control_caller = control_caller
        # debugpy runs threads of its own: none without threads (Pyodide has no debugpy either).
        self.available = threads_available() and importlib.util.find_spec("debugpy") is not None
        """Whether debugpy can be imported (kernel_info advertises the debugger only then)."""
        self._client: DebugpyClient | None = None
        """The connection to pydevd; it lasts as long as the kernel, across sessions."""
        self._connection_lost = False
        self._tracing_on: aiologic.Event | None = None
        """Set once pydevd traces the kernel's threads (after the first configurationDone)."""
        self._capabilities: dict[str, Any] | None = None
        self._initializing: str | None = None
        """What an 'initialize' or 'attach' waits for now; named when it times out."""
        self._attached = False
        self._breakpoints: dict[str, list[dict[str, Any]]] = {}
        self._stopped_threads: set[int] = set()
        """DAP ids of the threads debugpy holds at a breakpoint or step (from its events)."""
        self._last_request: Message | None = None
        self._local: dict[str, Callable[[DapMessage, dict[str, Any]], Awaitable[DapMessage]]] = {
            "initialize": self._initialize,
            "attach": self._attach,
            "configurationDone": self._configuration_done,
            "debugInfo": self._debug_info,
            "dumpCell": self._dump_cell,
            "setBreakpoints": self._set_breakpoints,
            "source": self._source,
            "stackTrace": self._stack_trace,
            "inspectVariables": self._inspect_variables,
            "richInspectVariables": self._rich_inspect_variables,
            "copyToGlobals": self._copy_to_globals,
            "disconnect": self._disconnect,
        }

    # --- the handler (control thread) -------------------------------------------------------

    async def debug_request(self, msg: Message) -> None:
        """Answer one ``debug_request`` with a ``debug_reply`` holding the DAP response."""
        self._last_request = msg
        response = await self.handle(msg.content)
        if msg.content.get("command") == "attach" and not response.get("success"):
            # debugInfo says "started" from 'initialize' on: a session that failed to attach
            # must not look started, or the frontend would never try again.
            self._end_session()
        self._sender.reply(msg, "debug_reply", response)

    async def handle(self, request: DapMessage) -> DapMessage:
        """Carry out one DAP request; every failure becomes a ``success: false`` response."""
        command = request.get("command")
        arguments = request.get("arguments")
        if arguments is None:  # optional in DAP
            arguments = {}
        if not isinstance(command, str):
            return error_response(
                request, f"a debug request needs a 'command' string, not {command!r}"
            )
        if not isinstance(arguments, dict):
            return error_response(request, f"{command!r} needs 'arguments' to be an object")
        if not self.available and command != "debugInfo":
            return error_response(request, "the debugger needs debugpy: pip install debugpy")
        handler = self._local.get(command)
        if handler is None and command not in _FORWARDED:
            return error_response(request, f"unknown debug command {command!r}")
        timeout = REQUEST_TIMEOUT
        try:
            with anyio.fail_after(timeout):
                if handler is not None:
                    return await handler(request, arguments)
                return await self._forward(request, arguments)
        except DapError as exc:
            return error_response(request, str(exc))
        except TimeoutError:
            phase = self._initializing if command in ("initialize", "attach") else None
            waiting = f" (waiting for {phase})" if phase else ""
            self._initializing = None
            log.warning("debugpy did not answer %r in %s s%s", command, timeout, waiting)
            return error_response(
                request, f"debugpy did not answer {command!r} in {timeout} s{waiting}"
            )
        except DebugpyClosedError as exc:
            self._end_session()
            return error_response(request, f"{exc}; restart the kernel to debug it again")
        except Exception as exc:
            log.exception("debug request %r failed", command)
            return error_response(request, f"{type(exc).__name__}: {exc}")

    # --- talking to debugpy -----------------------------------------------------------------

    def _connected(self) -> DebugpyClient:
        client = self._client
        if client is None or client.closed or not self._attached:
            raise DapError("the debugger is not started: send 'initialize' and 'attach' first")
        return client

    async def _forward(self, request: DapMessage, arguments: dict[str, Any]) -> DapMessage:
        return await self._forward_to(self._connected(), request, arguments)

    @staticmethod
    async def _forward_to(
        client: DebugpyClient, request: DapMessage, arguments: dict[str, Any]
    ) -> DapMessage:
        response = await client.request(request["command"], arguments)
        response["request_seq"] = request.get("seq", 0)
        return response

    def _hide_kernel_threads(self) -> None:
        """Keep debugpy out of the control, IO and history threads: they must never stop."""
        hidden = {threading.current_thread(), self._control_caller().thread}
        hidden.update(t for t in threading.enumerate() if t.name.startswith(_KERNEL_THREADS))
        for thread in hidden:
            thread.pydev_do_not_trace = True  # pyright: ignore[reportAttributeAccessIssue]
            thread.is_pydev_daemon_thread = True  # pyright: ignore[reportAttributeAccessIssue]

    async def _read(self, client: DebugpyClient) -> None:
        """Read pydevd's messages; end the session if the connection goes away."""
        await client.read_forever()
        if self._client is client:
            log.warning("the connection to pydevd ended; the debugger needs a kernel restart")
            self._client = None
            self._connection_lost = True
            self._end_session()

    def _on_message(self, message: DapMessage) -> None:
        """Track stopped threads and publish events (control thread, in adapter order)."""
        body = message.get("body") or {}
        if message.get("type") == "response":
            if message.get("command") in _RESUMING and message.get("success"):
                self._stopped_threads.clear()  # debugpy resumes every thread
            return
        event = message.get("event")
        thread_id = body.get("threadId")
        if event == "stopped" and isinstance(thread_id, int):
            self._stopped_threads.add(thread_id)
        elif event == "continued":
            if body.get("allThreadsContinued", True):
                self._stopped_threads.clear()
            else:
                self._stopped_threads.discard(thread_id)
        elif event == "thread" and body.get("reason") == "exited":
            self._stopped_threads.discard(thread_id)
        elif event in ("terminated", "exited"):
            self._stopped_threads.clear()
        self._sender.publish("debug_event", message, self._last_request)

    def _end_session(self) -> None:
        """Forget the frontend's session; the connection to pydevd stays for the next one."""
        self._capabilities = None
        self._attached = False
        self._breakpoints.clear()
        self._stopped_threads.clear()

    # --- the session ------------------------------------------------------------------------

    async def _initialize(self, request: DapMessage, arguments: dict[str, Any]) -> DapMessage:
        client = self._client
        if self._capabilities is not None and client is not None and not client.closed:
            return success_response(request, self._capabilities)
        if client is None:
            if self._connection_lost:
                raise DapError("the connection to pydevd was lost: restart the kernel to debug")
            self._hide_kernel_threads()
            self._initializing = "pydevd to connect to the kernel (debugpy.connect)"
            client, self._tracing_on = await connect_pydevd(self._on_message)
            Caller.get_current().call_soon(self._read, client)
            self._client = client
        self._initializing = "pydevd's response to 'initialize'"
        # DAP requires adapterID; pydevd refuses an 'initialize' without it.
        arguments = {"adapterID": "python", **arguments}
        response = await self._forward_to(client, request, arguments)
        self._initializing = None
        if response.get("success"):
            self._capabilities = response.get("body") or {}
        return response

    async def _attach(self, request: DapMessage, arguments: dict[str, Any]) -> DapMessage:
        """Attach, then finish pydevd's configuration here.

        The kernel sends ``configurationDone`` itself right after 'attach', so the session runs
        whatever the frontend sends next (and ``debugpy.connect`` returns then); the
        frontend's own ``configurationDone`` requests are answered here.
        """
        client = self._client
        if client is None or client.closed or self._capabilities is None:
            raise DapError("send 'initialize' before 'attach'")
        if self._attached:
            return success_response(request)
        arguments = {
            "justMyCode": True,
            # A breakpoint stops the thread that hit it, not every shell: subshells and
            # worker threads keep running, as they do while a cell blocks.
            "stopAllThreadsOnSuspend": False,
            **arguments,
            "rules": [
                *arguments.get("rules", []),
                *({"path": folder, "include": False} for folder in kernel_folders()),
            ],
        }
        initialized = client.expect_event("initialized")
        seq = await client.send_request("attach", arguments)
        await initialized()
        done = await client.request("configurationDone")
        if not done.get("success"):
            log.warning("debugpy refused configurationDone: %s", done.get("message"))
        response = await client.response(seq)
        response["request_seq"] = request.get("seq", 0)
        if self._tracing_on is not None:
            # pydevd traces the kernel's threads only once debugpy.connect returns.
            self._initializing = "pydevd to trace the kernel's threads"
            await self._tracing_on
            self._initializing = None
        self._attached = bool(response.get("success"))
        return response

    async def _configuration_done(
        self, request: DapMessage, arguments: dict[str, Any]
    ) -> DapMessage:
        del arguments
        self._connected()
        return success_response(request)

    async def _disconnect(self, request: DapMessage, arguments: dict[str, Any]) -> DapMessage:
        """End the session: pydevd drops the breakpoints and resumes stopped threads.

        The connection stays open for the next session (pydevd connects once per process).
        """
        client = self._client
        if client is None or client.closed or self._capabilities is None:
            self._end_session()
            return success_response(request)
        # Never let a frontend end the kernel process through the debugger.
        arguments = {**arguments, "terminateDebuggee": False, "restart": False}
        try:
            return await self._forward_to(client, request, arguments)
        finally:
            self._end_session()

    async def _debug_info(self, request: DapMessage, arguments: dict[str, Any]) -> DapMessage:
        """Describe the session; it counts as started from a successful 'initialize' on.

        Not from 'attach': JupyterLab sets its own started flag from every ``debugInfo`` reply,
        and one of its views asks while its 'attach' is still on the way. A "not started" then
        switched Lab's session off again, and breakpoints clicked in the gutter were dropped.
        """
        del arguments
        return success_response(
            request,
            {
                "isStarted": self._capabilities is not None,
                "hashMethod": "Murmur2",
                "hashSeed": cell_files.seed,
                "tmpFilePrefix": cell_files.prefix,
                "tmpFileSuffix": cell_files.suffix,
                "breakpoints": [
                    {"source": path, "breakpoints": points}
                    for path, points in self._breakpoints.items()
                ],
                "stoppedThreads": sorted(self._stopped_threads),
                "richRendering": True,
                "exceptionPaths": ["Python Exceptions"],
                "copyToGlobals": True,
            },
        )

    async def _dump_cell(self, request: DapMessage, arguments: dict[str, Any]) -> DapMessage:
        code = arguments.get("code")
        if not isinstance(code, str):
            raise DapError(f"'dumpCell' needs arguments.code: a string, not {code!r}")
        path = await Caller.to_thread(cell_files.dump, code)
        return success_response(request, {"sourcePath": path})

    async def _set_breakpoints(self, request: DapMessage, arguments: dict[str, Any]) -> DapMessage:
        path = source_path_argument(arguments, "setBreakpoints")
        points = arguments.get("breakpoints", [])
        if path is None or not isinstance(points, list):
            raise DapError("'setBreakpoints' needs arguments.source.path and a breakpoints list")
        response = await self._forward(request, arguments)
        if response.get("success"):
            if points:
                self._breakpoints[path] = points
            else:
                self._breakpoints.pop(path, None)
        return response

    async def _source(self, request: DapMessage, arguments: dict[str, Any]) -> DapMessage:
        """The text of a file by path (debugpy only serves ``sourceReference`` numbers)."""
        reference = arguments.get("sourceReference", 0)
        if isinstance(reference, int) and reference > 0:
            return await self._forward(request, arguments)
        path = source_path_argument(arguments, "source")
        if path is None:
            raise DapError("'source' needs arguments.source.path or a sourceReference")
        try:
            content = await Caller.to_thread(Path(path).read_text, encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DapError(f"cannot read {path!r}: {exc}") from exc
        return success_response(request, {"content": content, "mimeType": "text/x-python"})

    # --- what a stopped thread shows --------------------------------------------------------

    async def _stack_trace(self, request: DapMessage, arguments: dict[str, Any]) -> DapMessage:
        integer_argument(arguments, "threadId", "stackTrace")
        response = await self._forward(request, arguments)
        body = response.get("body")
        if response.get("success") and isinstance(body, dict):
            frames = users_frames(body.get("stackFrames", []))
            body["stackFrames"] = frames
            body["totalFrames"] = len(frames)
        return response

    async def _evaluate_in_frame(self, frame_id: int, expression: str) -> str:
        response = await self._connected().request(
            "evaluate",
            {"expression": expression, "frameId": frame_id, "context": "clipboard"},
        )
        if not response.get("success"):
            raise DapError(response.get("message") or f"cannot evaluate {expression!r}")
        return (response.get("body") or {}).get("result", "")

    async def _inspect_variables(
        self, request: DapMessage, arguments: dict[str, Any]
    ) -> DapMessage:
        del arguments
        shell = self._shell
        variables = namespace_variables(shell.user_ns, shell.user_ns_hidden)
        return success_response(request, {"variables": variables})

    async def _rich_inspect_variables(
        self, request: DapMessage, arguments: dict[str, Any]
    ) -> DapMessage:
        name = identifier_argument(arguments, "variableName", "richInspectVariables")
        frame_id = arguments.get("frameId")
        if isinstance(frame_id, int) and self._stopped_threads:
            expression = f"__import__('async_kernel.debugger._debugger', fromlist=['_']).rich_bundle_json({name})"
            result = await self._evaluate_in_frame(frame_id, expression)
            try:
                bundle = json.loads(ast.literal_eval(result))
            except (ValueError, SyntaxError) as exc:
                raise DapError(f"cannot render {name!r}: {result}") from exc
        else:
            namespace = self._shell.user_ns
            if name not in namespace:
                raise DapError(f"no variable named {name!r}")
            bundle = json.loads(rich_bundle_json(namespace[name]))
        return success_response(request, bundle)

    async def _copy_to_globals(self, request: DapMessage, arguments: dict[str, Any]) -> DapMessage:
        source = identifier_argument(arguments, "srcVariableName", "copyToGlobals")
        target = identifier_argument(arguments, "dstVariableName", "copyToGlobals")
        frame_id = integer_argument(arguments, "srcFrameId", "copyToGlobals")
        # The frame's globals are the namespace of the shell that ran the cell.
        await self._evaluate_in_frame(frame_id, f"globals().__setitem__({target!r}, {source})")
        return success_response(request)

    # --- interrupts and shutdown (IO thread) ------------------------------------------------

    def resume_then(self, action: Callable[[], object]) -> None:
        """Run ``action`` (an interrupt) once no thread is held by the debugger.

        A thread stopped at a breakpoint waits inside debugpy; an interrupt delivered there
        would land in debugpy's own code. So the threads are resumed first, and the action
        runs once debugpy reports them running again (any thread).
        """
        client = self._client
        if not self._stopped_threads or client is None or client.closed:
            action()
            return
        try:
            self._control_caller().call_soon(self._resume_and_run, client, action)
        except CallerStoppedError:  # shutting down: nothing can resume them any more
            action()

    async def _resume_and_run(self, client: DebugpyClient, action: Callable[[], object]) -> None:
        try:
            thread_id = next(iter(self._stopped_threads), None)
            if thread_id is not None:
                continued = client.expect_event("continued")
                with anyio.move_on_after(RESUME_TIMEOUT):
                    await client.request("continue", {"threadId": thread_id})
                    await continued()
                    # "continued" is sent just before the thread returns to the user's code;
                    # an interrupt that lands in debugpy's code would turn its tracing off.
                    while _threads_in_debugpy():  # noqa: ASYNC110 - no event marks it
                        await anyio.sleep(0.001)
        except Exception:
            log.exception("could not resume the debugged threads")
        finally:
            action()


def _threads_in_debugpy() -> bool:
    """Whether a thread debugpy traces is running debugpy's own code (held, or resuming)."""
    debugpy_folders = _debugpy_folders()
    frames = sys._current_frames()
    for thread in threading.enumerate():
        if getattr(thread, "pydev_do_not_trace", False) or thread.ident is None:
            continue
        frame = frames.get(thread.ident)
        while frame is not None:
            if frame.f_code.co_filename.startswith(debugpy_folders):
                return True
            frame = frame.f_back
    return False


@functools.cache
def _debugpy_folders() -> tuple[str, ...]:
    spec = importlib.util.find_spec("debugpy")
    if spec is None or not spec.submodule_search_locations:
        return ()
    return tuple(str(Path(folder)) for folder in spec.submodule_search_locations)
