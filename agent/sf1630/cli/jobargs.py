"""Options shared by ``send``, ``receive`` and ``run``, and the code that turns them into a Runtime."""

# Late imports inside the functions: a command loads its work only when it runs (start-up time).

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


def selection(args: argparse.Namespace, cfg: Any = None, command: str = "send") -> Any:
    """The Selection of --municipality and --source; given the config, one that names no job is refused."""
    from sf1630.agent.runtime import Selection

    chosen = Selection(tuple(args.municipality), tuple(getattr(args, "source", []) or ()))
    if cfg is not None:
        check_selection(cfg, chosen, command)
    return chosen


# What each command does with a municipality: the table its file needs, and the test for it.
JOB_TABLES = {"send": ("[[send]]", lambda m: bool(m.sends)), "receive": ("[receive]", lambda m: m.receive is not None)}


def check_selection(cfg: Any, chosen: Any, command: str) -> None:
    """Raise UsageError (exit 2) for a --municipality or --source that names no job of ``command``.

    A typo in a cron line would otherwise do nothing and exit 0, unnoticed for months (issue #17).
    """
    from sf1630.errors import UsageError

    towns = {m.municipality.key: m for m in cfg.municipalities}
    for key in chosen.municipalities:
        if key not in towns:
            raise UsageError(f"--municipality {key!r} matches no municipality{did_you_mean(key, towns)}; "
                             f"configured: {', '.join(sorted(towns)) or 'none'}")
    if chosen.municipalities and command in JOB_TABLES:
        _check_has_jobs([towns[k] for k in chosen.municipalities], list(towns.values()), command)
    picked = [towns[k] for k in chosen.municipalities] or list(towns.values())
    sources = sorted({s.source for m in picked for s in m.sends})
    where = f" of {', '.join(chosen.municipalities)}" if chosen.municipalities else ""
    for name in chosen.sources:
        if name not in sources:
            raise UsageError(f"--source {name!r} matches no [[send]]{where}{did_you_mean(name, sources)}; "
                             f"configured sources{where}: {', '.join(sources) or 'none'}")


def _check_has_jobs(picked: list, every: list, command: str) -> None:
    from sf1630.errors import UsageError

    table, does = JOB_TABLES[command]
    for m in picked:
        if not does(m):
            able = sorted(t.municipality.key for t in every if does(t))
            raise UsageError(f"--municipality {m.municipality.key!r}: {m.path} has no {table}, so there is nothing "
                             f"to {command}; municipalities that {command}: {', '.join(able) or 'none'}")


def did_you_mean(name: str, known: Any) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known`` (case aside), or ``""``."""
    import difflib

    lowered = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1)
    return f" (did you mean {lowered[close[0]]!r}?)" if close else ""


def install_stop(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set ``stop``: the current step finishes and is journalled (issue #13)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass


def add_wait_arg(parser: argparse.ArgumentParser) -> None:
    """Add --no-wait (for commands a running service can do)."""
    parser.add_argument("--no-wait", action="store_true",
                        help="when a running sf1630 service holds the site: hand it the request and return at once "
                             "with its id (sf1630 status lists it) instead of waiting for and printing its outcome")


def carry_out(cfg: Any, request: Any, *, no_wait: bool = False) -> int:
    """Do ``request`` (a SendRequest or ReceiveRequest), or hand it to the running service; print the outcome."""
    import sys
    from contextlib import nullcontext

    from sf1630.agent.inbox import await_outcome, hand_over, service_running
    from sf1630.agent.runtime import work_lock

    running = None if request.dry_run else service_running(cfg)
    if running:
        ids = hand_over(cfg, request, resend_by())
        numbers = ", ".join(map(str, ids))
        if no_wait:
            print(f"handed to the running sf1630 service ({running}) as request {numbers}; "
                  "sf1630 status shows it until it is done")
            return 0
        print(f"handed to the running sf1630 service ({running}) as request {numbers}; waiting for it",
              file=sys.stderr)
        return show(request, await_outcome(cfg, ids, say=lambda line: print(line, file=sys.stderr)))
    with nullcontext() if request.dry_run else work_lock(cfg.journal):
        return show(request, asyncio.run(_perform(cfg, request)))


async def _perform(cfg: Any, request: Any) -> Any:
    from sf1630.agent.operate import perform
    from sf1630.ops.progress import ProgressLine

    stop = asyncio.Event()
    install_stop(stop)
    if request.dry_run:
        return await perform(cfg, request, stop)
    progress = ProgressLine(request.command)

    def started(rt: Any) -> None:
        if request.command == "send":
            progress.total = len(rt.send_specs(request.selection)) or None

    try:
        return await perform(cfg, request, stop, emitters=[progress], started=started)
    finally:
        progress.finish()


def show(request: Any, outcome: Any) -> int:
    """Print an Outcome; its exit status (an error it carries is raised, as the command's own would be)."""
    from sf1630.errors import Sf1630Error

    if outcome.error:
        error = Sf1630Error(outcome.error)
        error.exit_status = outcome.exit_code or 1  # type: ignore[attr-defined]
        raise error
    for line in outcome.lines():
        print(line)
    return outcome.exit_code


def resend_by() -> str:
    """Who runs this command (a resend, a request, a resolve): the OS user, and the user behind sudo
    when there is one (issue #14)."""
    import os
    import pwd

    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = f"uid {os.getuid()}"
    sudo = os.environ.get("SUDO_USER")
    return f"{user} (sudo by {sudo})" if sudo and sudo != user else user
