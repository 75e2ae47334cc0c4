"""``sf1630 run``: the agent as a service: sends on their schedules, receives every poll_interval."""

from __future__ import annotations

# Late imports inside the functions: every command module loads when `sf1630` starts (see main.py).

import argparse
import asyncio
from typing import Any

from sf1630.cli.jobargs import add_job_args


def register(subparsers: Any) -> None:
    """Add the `run` command."""
    parser = subparsers.add_parser(
        "run", help="run every job on its schedule until stopped",
        description="Run each [[send]] on its cron schedule and each [receive] every poll_interval, "
                    "municipalities concurrently up to `concurrency`. SIGTERM or SIGINT stops it cleanly: "
                    "the current step finishes and is journalled, and the exit status is 0. SIGHUP reloads the "
                    "configuration if it is valid (else it logs the errors and keeps running the old one).")
    add_job_args(parser, dry_run=False)
    parser.add_argument("--http-port", metavar="[HOST:]PORT",
                        help="serve the status page on http://HOST:PORT/, with /api/status, /healthz and /metrics "
                             "(HOST default [agent].http_bind, 127.0.0.1; default port [agent].http_port)")
    parser.add_argument("--metrics-port", metavar="[HOST:]PORT",
                        help="the same as --http-port (its older name: /metrics is served there)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the scheduler until SIGTERM/SIGINT."""
    from sf1630.cli import jobargs
    from sf1630.agent.runtime import work_lock
    from sf1630.config.load import config_path

    cfg = jobargs.load(args)
    where = web_address(cfg, args.http_port, args.metrics_port)
    with work_lock(cfg.journal, service=True):
        return asyncio.run(_run(cfg, jobargs.selection(args, cfg, "run"), where, (config_path(args.config), args.env)))


def web_address(cfg: Any, http_port: str | None, metrics_port: str | None) -> tuple[str, int] | None:
    """Where to serve the page: --http-port (or --metrics-port), else [agent] http_port; None: nowhere."""
    from sf1630.errors import ConfigError
    from sf1630.ops.web import address

    if http_port and metrics_port and http_port != metrics_port:
        raise ConfigError(f"--http-port {http_port} and --metrics-port {metrics_port}: both name the one web "
                          "server; give one of them")
    given, option = (http_port, "--http-port") if http_port else (metrics_port, "--metrics-port")
    if given:
        return address(given, cfg.http_bind, option)
    return (cfg.http_bind, cfg.http_port) if cfg.http_port else None


async def _run(cfg: Any, selection: Any, where: tuple[str, int] | None = None, config_file: Any = None) -> int:
    import time

    from sf1630.agent.service import run_service
    from sf1630.cli.jobargs import install_stop
    from sf1630.cli.status import collect

    stop = asyncio.Event()
    install_stop(stop)
    await run_service(cfg, stop, selection=selection, where=where, status=lambda: collect(cfg, 20, time.time()),
                      config_file=config_file)
    return 0
