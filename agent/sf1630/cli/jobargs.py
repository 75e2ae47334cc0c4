"""Options shared by ``send``, ``receive`` and ``run``, and the code that turns them into a Runtime."""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any


def add_job_args(parser: argparse.ArgumentParser, *, sources: bool = True, dry_run: bool = True) -> None:
    """Add --config, --env, --municipality, --source and --dry-run."""
    parser.add_argument("--config", metavar="FILE", help="agent config (default: $SF1630_CONFIG or ./agent.toml)")
    parser.add_argument("--env", metavar="NAME", help="environment to use, e.g. test or production")
    parser.add_argument("--municipality", metavar="KEY", action="append", default=[],
                        help="only this municipality (repeatable)")
    if sources:
        parser.add_argument("--source", metavar="NAME", action="append", default=[],
                            help="only this source, e.g. ky (repeatable)")
    if dry_run:
        parser.add_argument("--dry-run", action="store_true", help="print what would be done; change nothing")


def load(args: argparse.Namespace) -> Any:
    """The AgentConfig named by the arguments (ConfigError lists every problem)."""
    from sf1630.config.load import config_path, load_config
    from sf1630.ops.log import setup_logging

    config = load_config(config_path(args.config), args.env)
    if not (args.log_format and args.log_level):  # the command line wins over [agent] log_format/log_level
        setup_logging(args.log_format or config.log_format, args.log_level or config.log_level)
    return config


def selection(args: argparse.Namespace) -> Any:
    """The Selection of --municipality and --source."""
    from sf1630.agent.runtime import Selection

    return Selection(tuple(args.municipality), tuple(getattr(args, "source", []) or ()))


def install_stop(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set ``stop``: the current step finishes and is journalled (issue #13)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass


class EmptyJournal:
    """Stands in for a journal that does not exist yet, so that a dry run creates nothing."""

    def transfers(self, *args: Any, **kwargs: Any) -> list:
        return []

    def get(self, key: str) -> None:
        return None

    def close(self) -> None:
        pass
