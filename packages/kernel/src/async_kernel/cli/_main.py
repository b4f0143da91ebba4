"""The `async-kernel` command: install, uninstall and list kernel specs, and start the kernel.

Two forms are accepted:

- commands: `async-kernel install|uninstall|list|start ...`;
- the short form Jupyter and users already know: `async-kernel -f CONNECTION_FILE` starts the
  kernel (this is what `kernel.json` runs, through `python -m async_kernel`), and
  `async-kernel -a NAME --interface.backend=trio` installs a spec.

The first argument decides: a command name selects the command parser, anything else the
short form. Only `start` imports the kernel, so install and list stay quick and work even
when a backend is broken.
"""

from __future__ import annotations

import argparse
import importlib
import sys

TYPE_CHECKING = False  # as in __init__: no `typing` import before the kernel listens
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import TextIO

_PROG = "async-kernel"
_COMMANDS = ("install", "uninstall", "list", "start")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class _UsageError(Exception):
    """A request we understood but cannot carry out; main prints it and exits with `code`."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def main(argv: Sequence[str] | None = None) -> int | None:
    """Run the `async-kernel` command line.

    Args:
        argv: The arguments after the program name; defaults to `sys.argv[1:]`.

    Returns:
        The exit status: None (success), 1 when a spec cannot be found, removed or replaced,
        2 for a bad request such as an unknown backend or an invalid name. Malformed command
        lines exit through argparse with status 2.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["launch"]:  # the remote launcher has a command line of its own
        from ._launcher import main as launch

        return launch(arguments[1:]) or None
    if arguments[:1] == ["install"] and any(
        argument.partition("=")[0] == "--provisioner" for argument in arguments
    ):
        from ._provisioner_specs import main as install_provisioner_spec

        return install_provisioner_spec(arguments[1:])
    try:
        if arguments and arguments[0] in _COMMANDS:
            return _run_command(_command_parser().parse_args(arguments))
        return _run_short_form(_short_form_parser(), arguments)
    except _UsageError as error:
        _write(f"{_PROG}: error: {error}", sys.stderr)
        return error.code


# --- parsers ---------------------------------------------------------------------------------


def _add_backend_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        "--interface.backend",
        dest="backend",
        metavar="NAME",
        default="asyncio",
        help="event-loop backend: 'asyncio' (built in) or one registered in the "
        "'async_kernel.backends' entry-point group, such as 'trio' (default: %(default)s)",
    )


def _add_log_level_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=_LOG_LEVELS,
        metavar="LEVEL",
        help=f"log to stderr at this level ({', '.join(_LOG_LEVELS)}; case-insensitive)",
    )


def _add_install_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--display-name",
        metavar="TEXT",
        help="name shown in front ends (default: 'Python 3 (NAME)')",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment variable for the kernel process (repeatable)",
    )
    location = parser.add_mutually_exclusive_group()
    location.add_argument("--user", action="store_true", help="install for the current user")
    location.add_argument(
        "--sys-prefix", action="store_true", help="install into this Python environment"
    )
    location.add_argument("--prefix", metavar="PATH", help="install under PATH/share/jupyter")


def _command_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=_PROG, description="Manage and start async-kernel.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    install = commands.add_parser(
        "install",
        help="install a kernel spec",
        description="Install a kernel spec. Without --user, --sys-prefix or --prefix it goes "
        "into this Python environment when that is a virtual environment, else to the user's "
        "Jupyter data directory. An existing async-kernel spec of the same name is replaced.",
    )
    install.add_argument(
        "--name", help="spec name (default: 'async', or 'async-BACKEND' for other backends)"
    )
    _add_install_options(install)
    _add_backend_option(install)

    uninstall = commands.add_parser(
        "uninstall",
        help="remove a kernel spec",
        description="Remove the async-kernel spec Jupyter would use for NAME. Never prompts.",
    )
    uninstall.add_argument("--name", default="async", help="spec name (default: %(default)s)")
    uninstall.add_argument(
        "-y", "--yes", action="store_true", help="accepted for scripts; there is never a prompt"
    )
    uninstall.add_argument("--prefix", metavar="PATH", help="look only under PATH/share/jupyter")

    listing = commands.add_parser(
        "list", help="list installed async-kernel specs", description="List async-kernel specs."
    )
    listing.add_argument("--prefix", metavar="PATH", help="look only under PATH/share/jupyter")

    start = commands.add_parser("start", help="start the kernel", description="Start the kernel.")
    start.add_argument(
        "-f", "--connection-file", required=True, metavar="FILE", help="Jupyter connection file"
    )
    _add_backend_option(start)
    _add_log_level_option(start)
    _add_ip_option(start)
    return parser


def _add_ip_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ip",
        metavar="ADDRESS",
        help="address to bind when the connection file does not exist yet and the kernel "
        "writes it (default: 127.0.0.1, this machine only)",
    )


def _short_form_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="Start async-kernel (-f) or install a kernel spec for it (-a).",
        epilog=f"Commands: {', '.join(_COMMANDS)}; see '{_PROG} COMMAND --help'.",
    )
    # Only here so that help lists the commands and a misspelt one gets a clear error.
    parser.add_argument(
        "command", nargs="?", choices=_COMMANDS, metavar="COMMAND", help=argparse.SUPPRESS
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument(
        "-f", "--connection-file", metavar="FILE", help="start the kernel with this connection file"
    )
    action.add_argument(
        "-a", "--add", metavar="NAME", help="install a kernel spec named NAME (see 'install')"
    )
    _add_backend_option(parser)
    _add_install_options(parser)
    _add_log_level_option(parser)
    _add_ip_option(parser)
    return parser


# --- commands --------------------------------------------------------------------------------


def _run_command(args: argparse.Namespace) -> int | None:
    if args.command == "install":
        return _install(args, args.name)
    if args.command == "uninstall":
        return _uninstall(args.name, args.prefix)
    if args.command == "list":
        return _list(args.prefix)
    return _start(args.connection_file, args.backend, args.log_level, args.ip)


def _run_short_form(parser: argparse.ArgumentParser, arguments: list[str]) -> int | None:
    args = parser.parse_args(arguments)
    if args.command is not None:
        parser.error(f"the command {args.command!r} must come first")
    if args.connection_file is not None:
        misplaced = [
            option
            for option, value in (
                ("--display-name", args.display_name),
                ("--env", args.env),
                ("--user", args.user),
                ("--sys-prefix", args.sys_prefix),
                ("--prefix", args.prefix),
            )
            if value
        ]
        if misplaced:
            parser.error(f"{', '.join(misplaced)}: can only be used with -a NAME")
        return _start(args.connection_file, args.backend, args.log_level, args.ip)
    if args.ip is not None:
        parser.error("--ip: can only be used with -f FILE")
    return _install(args, args.add)


def _install(args: argparse.Namespace, name: str | None) -> int | None:
    from .._exceptions import UnknownBackendError
    from . import _kernelspec

    env = _parse_env(args.env)
    try:
        path = _kernelspec.install_kernel_spec(
            name,
            display_name=args.display_name,
            backend=args.backend,
            env=env,
            user=args.user,
            sys_prefix=args.sys_prefix,
            prefix=args.prefix,
        )
    except (UnknownBackendError, _kernelspec.InvalidKernelNameError) as error:
        raise _UsageError(str(error), 2) from error
    except (_kernelspec.ForeignKernelSpecError, OSError) as error:
        raise _UsageError(str(error), 1) from error
    _write(f"Installed kernel spec {path.name!r} (backend {args.backend}) in {path}")
    return None


def _uninstall(name: str, prefix: str | None) -> int | None:
    from . import _kernelspec

    try:
        path = _kernelspec.remove_kernel_spec(name, prefix=prefix)
    except _kernelspec.InvalidKernelNameError as error:
        raise _UsageError(str(error), 2) from error
    except (
        _kernelspec.KernelSpecNotFoundError,
        _kernelspec.ForeignKernelSpecError,
        OSError,
    ) as error:
        raise _UsageError(str(error), 1) from error
    _write(f"Removed kernel spec {path.name!r} from {path}")
    return None


def _list(prefix: str | None) -> int | None:
    from . import _kernelspec

    specs = _kernelspec.list_kernel_specs(prefix=prefix)
    if not specs:
        _write("No async-kernel specs found.")
        return None
    from ..runtime._backends import backend_names

    available = set(backend_names())
    rows = [
        (
            spec.name,
            spec.backend if spec.backend in available else f"{spec.backend} (not installed)",
            str(spec.path),
        )
        for spec in specs
    ]
    rows.insert(0, ("NAME", "BACKEND", "PATH"))
    name_width = max(len(row[0]) for row in rows)
    backend_width = max(len(row[1]) for row in rows)
    for name, backend, path in rows:
        _write(f"{name:<{name_width}}  {backend:<{backend_width}}  {path}")
    return None


def _start(
    connection_file: str, backend: str, log_level: str | None, ip: str | None = None
) -> int | None:
    # First of all, before the imports below: the frontend is connecting already.
    from ..messaging._listeners import listen

    listeners = listen(connection_file)
    from .._exceptions import UnknownBackendError
    from ..runtime._backends import check_backend

    try:
        check_backend(backend)
    except UnknownBackendError as error:
        listeners.close()
        raise _UsageError(str(error), 2) from error
    # Imported by name, and only now: the kernel is the one heavy import of this command line.
    run_kernel = importlib.import_module("async_kernel._start").run_kernel
    try:
        # Only passed when given: the connection file's own address wins otherwise.
        options = {} if ip is None else {"ip": ip}
        if log_level is not None:
            options["log_level"] = log_level
        result = run_kernel(connection_file, listeners, backend=backend, **options)
    except UnknownBackendError as error:
        raise _UsageError(str(error), 2) from error
    return result if isinstance(result, int) else None


def _write(line: str, stream: TextIO | None = None) -> None:
    """Write one line of output (stdout by default): the command line's only way to talk."""
    (stream or sys.stdout).write(line + "\n")


def _parse_env(pairs: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not key or not separator:
            raise _UsageError(f"--env expects KEY=VALUE, got {pair!r}", 2)
        env[key] = value
    return env
