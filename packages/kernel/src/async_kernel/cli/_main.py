"""The `async-kernel` command: install, uninstall and list kernel specs, and start the kernel.

Two forms are accepted:

- commands: `async-kernel install|uninstall|list|start ...`;
- the short form Jupyter and users already know: `async-kernel -f CONNECTION_FILE` starts the
  kernel (this is what `kernel.json` runs, through `python -m async_kernel`), and
  `async-kernel -a NAME --interface.backend=trio` installs a spec.

The first argument decides: a command name selects the command parser, anything else the
short form. Only `start` imports the kernel, so install and list stay quick and work even
when a backend is broken.

Both forms take the kernel's settings: `--Class.trait=value` (traitlets, merged over the
IPython profile's config files), `--profile`, `--gui`, `--quiet`, `--uvloop` and
`--backend-option`. `install` writes them into the spec's command line, and `start` honours
them. The spellings of async-kernel 0.23 (`--connection_file`, `--interface.backend=trio`,
...) are mapped or ignored with a warning; see `_arguments`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .._version import __version__
from ._arguments import split_arguments

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
    words = list(sys.argv[1:] if argv is None else argv)
    if not words:
        _short_form_parser().print_help()
        return None
    if words[:1] == ["launch"]:  # the remote launcher has a command line of its own
        from ._launcher import main as launch

        return launch(words[1:]) or None
    if words[:1] == ["install"] and any(
        word.partition("=")[0] == "--provisioner" for word in words
    ):
        from ._provisioner_specs import main as install_provisioner_spec

        return install_provisioner_spec(words[1:])
    split = split_arguments(words)
    for warning in split.warnings:
        _write(f"{_PROG}: warning: {warning}", sys.stderr)
    arguments = split.arguments
    try:
        if arguments and arguments[0] in _COMMANDS:
            args = _command_parser().parse_args(arguments)
            args.settings = split.settings
            return _run_command(args)
        return _run_short_form(_short_form_parser(), arguments, split.settings)
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


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _add_kernel_options(parser: argparse.ArgumentParser) -> None:
    """Options that `start` honours and `install` writes into the spec's command line."""
    group = parser.add_argument_group(
        "kernel settings",
        "Honoured by the kernel at start; install writes them into the spec. Any "
        "--Class.trait=value setting of IPython (such as --InteractiveShell.ast_node_"
        "interactivity=all) is accepted too: see --help-all.",
    )
    group.add_argument(
        "--profile",
        metavar="NAME",
        help="IPython profile whose config files and startup/ scripts the kernel reads "
        "(default: 'default')",
    )
    group.add_argument(
        "--gui",
        metavar="NAME",
        help="GUI event loop to run from the start, such as tk or qt (as %%gui NAME)",
    )
    group.add_argument(
        "--matplotlib",
        metavar="BACKEND",
        help="matplotlib backend to enable at start (as %%matplotlib BACKEND)",
    )
    group.add_argument(
        "--quiet",
        type=_parse_bool,
        nargs="?",
        const=True,
        metavar="BOOL",
        help="false: also write cell output to the kernel's own stdout and stderr (default: true)",
    )
    group.add_argument(
        "--uvloop",
        action="store_true",
        default=None,
        help="run the asyncio backend on uvloop, when uvloop is installed",
    )
    group.add_argument(
        "--backend-option",
        action="append",
        metavar="KEY=VALUE",
        help="option for the backend's event loop, VALUE read as JSON when it parses "
        "(repeatable; for example debug=true)",
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
        "--folder",
        metavar="PATH",
        help="install into this kernels folder (the spec goes to PATH/NAME)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment variable for the kernel process (repeatable)",
    )
    location = parser.add_mutually_exclusive_group()
    location.add_argument("-u", "--user", action="store_true", help="install for the current user")
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
        epilog="For a kernel on other machines (Jupyter Enterprise Gateway, gateway "
        "provisioners): install --provisioner {distributed,docker,kubernetes}; see "
        "'async-kernel install --provisioner NAME --help' for its options.",
    )
    install.add_argument(
        "-n",
        "--name",
        help="spec name (default: 'async', or 'async-BACKEND' for other backends)",
    )
    _add_install_options(install)
    _add_backend_option(install)
    _add_kernel_options(install)

    uninstall = commands.add_parser(
        "uninstall",
        help="remove a kernel spec",
        description="Remove the async-kernel spec Jupyter would use for NAME. Never prompts.",
    )
    uninstall.add_argument("-n", "--name", default="async", help="spec name (default: %(default)s)")
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
    start.add_argument("-n", "--name", help=argparse.SUPPRESS)  # in older specs; not needed
    _add_backend_option(start)
    _add_kernel_options(start)
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
        description="Start async-kernel (-f), install a kernel spec for it (-a) or list "
        "the installed ones (-l).",
        epilog=f"Commands: {', '.join(_COMMANDS)}; see '{_PROG} COMMAND --help'.",
    )
    # Only here so that help lists the commands and a misspelt one gets a clear error.
    parser.add_argument(
        "command", nargs="?", choices=_COMMANDS, metavar="COMMAND", help=argparse.SUPPRESS
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "-f", "--connection-file", metavar="FILE", help="start the kernel with this connection file"
    )
    action.add_argument(
        "-a", "--add", metavar="NAME", help="install a kernel spec named NAME (see 'install')"
    )
    action.add_argument(
        "-l", "--list", action="store_true", help="list installed async-kernel specs"
    )
    action.add_argument("-V", "--version", action="store_true", help="print the version and exit")
    action.add_argument(
        "--help-all",
        action="store_true",
        help="show this help, the commands' and every --Class.trait setting with its default",
    )
    parser.add_argument("-n", "--name", help="with -a: another way to give the spec name")
    _add_backend_option(parser)
    _add_install_options(parser)
    _add_kernel_options(parser)
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
    return _start(args, args.connection_file)


def _run_short_form(
    parser: argparse.ArgumentParser, arguments: list[str], settings: list[str]
) -> int | None:
    args = parser.parse_args(arguments)
    args.settings = settings
    if args.command is not None:
        parser.error(f"the command {args.command!r} must come first")
    if args.version:
        _write(__version__)
        return None
    if args.help_all:
        _write_help_all(parser)
        return None
    if args.list:
        return _list(args.prefix, args.folder)
    if args.connection_file is not None:
        misplaced = [
            option
            for option, value in (
                ("--display-name", args.display_name),
                ("--env", args.env),
                ("--user", args.user),
                ("--sys-prefix", args.sys_prefix),
                ("--prefix", args.prefix),
                ("--folder", args.folder),
            )
            if value
        ]
        if misplaced:
            parser.error(f"{', '.join(misplaced)}: can only be used with -a NAME")
        return _start(args, args.connection_file)
    if args.ip is not None:
        parser.error("--ip: can only be used with -f FILE")
    if args.add is not None and args.name is not None and args.add != args.name:
        parser.error(f"-a {args.add} and --name {args.name}: give the spec name once")
    if args.add is None and args.name is None:
        parser.error("give -f FILE to start, -a NAME (or -n NAME) to install, or -l to list")
    return _install(args, args.add or args.name)


def _kernel_arguments(args: argparse.Namespace) -> list[str]:
    """The kernel settings in ``args``, as words for the spec's command line."""
    words: list[str] = []
    for option in ("profile", "gui", "matplotlib"):
        value = getattr(args, option)
        if value is not None:
            words.append(f"--{option}={value}")
    if args.quiet is not None:
        words.append(f"--quiet={str(args.quiet).lower()}")
    if args.uvloop:
        words.append("--uvloop")
    words.extend(f"--backend-option={option}" for option in args.backend_option or ())
    words.extend(args.settings)
    return words


def _write_help_all(parser: argparse.ArgumentParser) -> None:
    parser.print_help()
    commands = _command_parser()
    subparsers = next(
        action for action in commands._actions if isinstance(action, argparse._SubParsersAction)
    )
    for name, command in subparsers.choices.items():
        _write(f"\n--- {_PROG} {name} ---")
        command.print_help()
    from ..shell._settings_help import settings_help  # imports IPython: only here

    _write("\n--- settings (--Class.trait=value), with their defaults ---")
    _write(settings_help())


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
            folder=args.folder,
            arguments=_kernel_arguments(args),
        )
    except (UnknownBackendError, _kernelspec.InvalidKernelNameError) as error:
        raise _UsageError(str(error), 2) from error
    except (_kernelspec.ForeignKernelSpecError, OSError) as error:
        raise _UsageError(str(error), 1) from error
    except ValueError as error:  # more than one location
        raise _UsageError(str(error), 2) from error
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


def _list(prefix: str | None, folder: str | None = None) -> int | None:
    from . import _kernelspec

    specs = _kernelspec.list_kernel_specs(prefix=prefix, folder=folder)
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


def _start(args: argparse.Namespace, connection_file: str) -> int | None:
    # First of all, before the imports below: the frontend is connecting already.
    from ..messaging._listeners import listen

    listeners = listen(connection_file)
    from .._exceptions import UnknownBackendError
    from ..runtime._backends import check_backend

    backend: str = args.backend
    try:
        check_backend(backend)
        backend_options = _backend_options(args)
    except (UnknownBackendError, _UsageError) as error:
        listeners.close()
        code = error.code if isinstance(error, _UsageError) else 2
        raise _UsageError(str(error), code) from error
    # Imported by name, and only now: the kernel is the one heavy import of this command line.
    run_kernel = importlib.import_module("async_kernel._start").run_kernel
    options: dict[str, object] = {}
    if args.ip is not None:  # only passed when given: the connection file's address wins
        options["ip"] = args.ip
    if args.log_level is not None:
        options["log_level"] = args.log_level
    settings = [*args.settings]
    for option, section in (("gui", "gui"), ("matplotlib", "matplotlib")):
        value = getattr(args, option)
        if value is not None:
            settings.append(f"--InteractiveShellApp.{section}={value}")
    if settings:
        options["settings"] = settings
    if args.profile is not None:
        options["profile"] = args.profile
    if args.quiet is False:
        options["quiet"] = False
    if backend_options:
        options["backend_options"] = backend_options
    try:
        result = run_kernel(connection_file, listeners, backend=backend, **options)
    except UnknownBackendError as error:
        raise _UsageError(str(error), 2) from error
    return result if isinstance(result, int) else None


def _backend_options(args: argparse.Namespace) -> dict[str, object]:
    """The backend options asked for; uvloop only where it is installed (else a warning)."""
    import json

    options: dict[str, object] = {}
    for pair in args.backend_option or ():
        key, separator, text = pair.partition("=")
        if not key or not separator:
            raise _UsageError(f"--backend-option expects KEY=VALUE, got {pair!r}", 2)
        try:
            options[key] = json.loads(text)
        except ValueError:
            options[key] = text
    if args.uvloop:
        if args.backend != "asyncio":
            raise _UsageError(f"--uvloop is for the asyncio backend, not {args.backend!r}", 2)
        options["use_uvloop"] = True
    if options.get("use_uvloop"):
        import importlib.util

        if importlib.util.find_spec("uvloop") is None:
            _write(
                f"{_PROG}: warning: uvloop is not installed; running on asyncio's own loop "
                "(install it with: pip install uvloop)",
                sys.stderr,
            )
            del options["use_uvloop"]
    return options


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
