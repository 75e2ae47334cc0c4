"""The `sf1630` command: a dispatcher over one thin module per command.

Command modules keep heavy imports inside their run functions so that
`sf1630 --version` and `sf1630 --help` answer fast (issue #4).
"""

from __future__ import annotations

import argparse
import importlib
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
]


def build_parser() -> argparse.ArgumentParser:
    from sf1630 import __version__

    parser = argparse.ArgumentParser(
        prog="sf1630",
        description="Transfer agent and platform simulator for Serviceplatformen SF1630.",
    )
    parser.add_argument("--version", action="version", version=f"sf1630 {__version__}")
    parser.add_argument(
        "--log-format", choices=["text", "json"], default="text",
        help="log lines as plain text (default) or one JSON object per line",
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"sf1630.cli.{name}")
        except ModuleNotFoundError as exc:  # TEMPORARY while commands are being written
            if exc.name != f"sf1630.cli.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--version"]:
        from sf1630 import __version__

        print(f"sf1630 {__version__}")
        return 0
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from sf1630.log import setup_logging

    setup_logging(args.log_format, args.log_level)
    from sf1630.errors import Sf1630Error

    try:
        return int(args.func(args) or 0)
    except Sf1630Error as exc:
        print(f"sf1630: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
