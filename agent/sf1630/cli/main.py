"""The `sf1630` command: a dispatcher over one thin module per command.

Command modules keep heavy imports inside their run functions so that
`sf1630 --version` and `sf1630 --help` answer fast (issue #4).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Name of each command module under sf1630.cli; each defines register(subparsers).
COMMANDS = [
    "demo",
    "send",
    "receive",
    "run",
    "status",
    "validate",
    "platform",
    "plugins",
    "config",
    "init",
    "deploy",
    "doctor",
    "keys",
    "journal",
]

# Commands that write extracts, deliveries or the journal: they run with umask 077 (sf1630.transport.privacy).
PRIVATE_COMMANDS = frozenset({"demo", "send", "receive", "run", "status"})


def build_parser(with_plugins: bool = False) -> argparse.ArgumentParser:
    from sf1630 import __version__

    parser = argparse.ArgumentParser(
        prog="sf1630",
        description="Transfer agent and platform simulator for Serviceplatformen SF1630.",
    )
    parser.add_argument("--version", action="version", version=f"sf1630 {__version__}")
    _add_log_options(parser, None)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"sf1630.cli.{name}").register(subparsers)
    if with_plugins:
        _add_plugin_commands(subparsers)
    _log_options_after_commands(parser)
    return parser


def _add_log_options(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--log-format", choices=["text", "json"], default=default,
        help="log lines as plain text or one JSON object per line (default: [agent] log_format, else text)",
    )
    parser.add_argument("--log-level", default=default, type=str.upper, choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="the least severe log lines shown (default: [agent] log_level, else INFO)")


def _log_options_after_commands(parser: argparse.ArgumentParser) -> None:
    """Accept --log-format and --log-level after any command name too (``sf1630 send --log-format json``).

    SUPPRESS as default: a command not given them leaves the value given before the command.
    """
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                if not {"--log-format", "--log-level"} & set(sub._option_string_actions):
                    _add_log_options(sub, argparse.SUPPRESS)
                _log_options_after_commands(sub)


def _add_plugin_commands(subparsers: argparse._SubParsersAction) -> None:
    """Commands from plugins (``sf1630_register_commands``), found through $SF1630_CONFIG or ./agent.toml."""
    from sf1630.config.check import make_host_for
    from sf1630.config.load import config_path

    path = config_path()
    if path.is_file():
        host = make_host_for(path)
    else:
        from sf1630.plugins import make_plugin_host

        host = make_plugin_host()
    if host is not None:
        host.register_commands(subparsers)


def _wants_plugins(argv: list[str]) -> bool:
    """Loading plugins costs ~0.1 s: do it only for a command that is not built in, or for help."""
    words = [a for i, a in enumerate(argv) if not a.startswith("-") and argv[i - 1 : i] not in (["--log-format"], ["--log-level"])]
    if not words:
        return "-h" in argv or "--help" in argv
    return words[0] not in COMMANDS


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--version"]:
        from sf1630 import __version__

        print(f"sf1630 {__version__}")
        return 0
    from sf1630.ops.log import quiet_dependency_warnings
    from sf1630.transport.libfind import quick_lookup

    quiet_dependency_warnings()  # before anything imports asyncssh, plugins included
    quick_lookup()  # asyncssh's import looks for liboqs: from the library folders, not with gcc
    parser = build_parser(with_plugins=_wants_plugins(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from sf1630.ops.log import setup_logging

    setup_logging(args.log_format or "text", args.log_level or "INFO")
    from sf1630.errors import Sf1630Error
    from sf1630.transport.privacy import private_umask

    # Files made on the agent's behalf are owner-only too (issue #14); restored for in-process callers.
    umask = private_umask() if args.command in PRIVATE_COMMANDS else None
    try:
        return int(args.func(args) or 0)
    except Sf1630Error as exc:
        print(f"sf1630: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_status", 1)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `sf1630 ... | head`: the reader left; say nothing more, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        if umask is not None:
            os.umask(umask)


if __name__ == "__main__":
    sys.exit(main())
