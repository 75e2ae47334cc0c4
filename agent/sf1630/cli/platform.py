"""``sf1630 platform serve``: run the Serviceplatform simulator in the foreground (issues #8, #12).

Runs until SIGTERM or SIGINT, then stops accepting, finishes the routes in flight and exits 0.
A port in use, an unreadable key or a broken config gives one line on stderr and exit 2.
"""

from __future__ import annotations

# Late imports inside the functions: every command module loads when `sf1630` starts (see main.py).

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "platform", help="run the Serviceplatform simulator",
        description="A local stand-in for KOMBIT's Serviceplatform: an SFTP server that routes SF1630 files.")
    commands = parser.add_subparsers(dest="platform_command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve", help="run the simulator in the foreground until SIGTERM/SIGINT",
        description="Serve SFTP for the users of the config, route their triggers, write receipts and "
                    "metadata. See docs/SIMULATOR.md.")
    serve.add_argument("--config", metavar="FILE", help="the simulator's TOML config (see conf/platform.example.toml)")
    serve.add_argument("--print-algorithms", action="store_true",
                       help="list the SSH algorithms the server offers and exit")
    serve.set_defaults(func=run_serve)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def run_serve(args: argparse.Namespace) -> int:
    from sf1630.simulator import algorithms

    if args.print_algorithms:
        print(algorithms.describe())
        return 0
    if not args.config:
        print("sf1630: error: platform serve needs --config FILE (see conf/platform.example.toml)", file=sys.stderr)
        return 2
    import asyncio
    from pathlib import Path

    from sf1630.errors import Sf1630Error
    from sf1630.simulator.config import load_platform_config

    try:
        config = load_platform_config(Path(args.config))
        return asyncio.run(_serve(config))
    except Sf1630Error as exc:
        print(f"sf1630: error: {exc}", file=sys.stderr)
        return 2


async def _serve(config) -> int:
    import asyncio
    import signal

    from sf1630.simulator.server import Platform

    platform = Platform(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await platform.start()
    try:
        await stop.wait()
    finally:
        await platform.stop()
    return 0
