"""``sf1630 run``: the agent as a service: sends on their schedules, receives every poll_interval."""

from __future__ import annotations

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
                    "the current step finishes and is journalled, and the exit status is 0.")
    add_job_args(parser, dry_run=False)
    parser.add_argument("--metrics-port", metavar="[HOST:]PORT",
                        help="serve Prometheus metrics on http://HOST:PORT/metrics (HOST default 127.0.0.1)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the scheduler until SIGTERM/SIGINT."""
    from sf1630.cli import jobargs
    from sf1630.agent.runtime import work_lock

    cfg = jobargs.load(args)
    with work_lock(cfg.journal, service=True):
        return asyncio.run(_run(cfg, jobargs.selection(args, cfg, "run"), args.metrics_port))


async def _run(cfg: Any, selection: Any, metrics_port: str | None = None) -> int:
    from sf1630.cli.jobargs import install_stop
    from sf1630.agent.runtime import build_runtime
    from sf1630.agent.scheduler import Scheduler

    stop = asyncio.Event()
    install_stop(stop)
    from sf1630.ops.metrics import start_metrics

    metrics = start_metrics(metrics_port) if metrics_port else None
    rt = build_runtime(cfg, command="run", emitters=[metrics] if metrics else [])
    if metrics:
        metrics.attach(rt.journal)
    try:
        await Scheduler(rt, stop, selection=selection, lease_seconds=cfg.lease_seconds).run()
    finally:
        if metrics:
            metrics.close()
        await rt.aclose()
    return 0
