"""``sf1630 send``: send every configured extract now (resuming unfinished ones first), then exit."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from sf1630.cli.jobargs import add_job_args


def register(subparsers: Any) -> None:
    """Add the `send` command."""
    parser = subparsers.add_parser(
        "send", help="send the configured extracts once, now",
        description="Finish unfinished sends, then produce and send each selected extract for the current "
                    "period, wait for the receipts and print the result. An extract already sent for its "
                    "period is not sent again. Exit 0 when everything is delivered, 1 otherwise.")
    add_job_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run one send round; print a table of the transfers."""
    from sf1630.cli import jobargs
    from sf1630.runtime import work_lock

    cfg = jobargs.load(args)
    if args.dry_run:
        return dry_run(cfg, jobargs.selection(args))
    with work_lock(cfg.journal):
        return asyncio.run(_send(cfg, jobargs.selection(args)))


async def _send(cfg: Any, selection: Any) -> int:
    from sf1630.cli.jobargs import install_stop
    from sf1630.flow import send_round
    from sf1630.progress import ProgressLine
    from sf1630.report import transfer_table
    from sf1630.runtime import build_runtime

    stop = asyncio.Event()
    install_stop(stop)
    progress = ProgressLine("send")
    rt = build_runtime(cfg, emitters=[progress])
    try:
        progress.total = len(rt.send_specs(selection)) or None
        summary = await send_round(rt, selection, stop)
    finally:
        progress.finish()
        await rt.aclose()
    for line in transfer_table(summary.transfers):
        print(line)
    if not summary.transfers:
        print("nothing to send: no [[send]] matches the selection")
    return 0 if summary.ok and not rt.problems else 1


def dry_run(cfg: Any, selection: Any) -> int:
    """Print what a send round would do, changing nothing (no journal is created)."""
    from datetime import datetime

    from sf1630 import steps
    from sf1630.cli.jobargs import EmptyJournal
    from sf1630.flow import make_sender
    from sf1630.report import table
    from sf1630.runtime import build_runtime

    journal = None if cfg.journal.exists() else EmptyJournal()
    rt = build_runtime(cfg, journal=journal)
    sender = make_sender(rt, asyncio.Event())
    rows, now = [], datetime.now().replace(microsecond=0)
    for t in rt.journal.list(kind="send", states=steps.SEND_OPEN, limit=None):
        if selection.takes(t.municipality or "", t.source):
            rows.append(["resume", t.municipality, t.source, t.period, t.file_name, f"from {t.state}"])
    for spec in rt.send_specs(selection):
        job, name = sender.plan(spec, now)
        earlier = sender.already_sent(spec, job.period)
        if earlier is not None:
            rows.append(["skip", spec.municipality.key, spec.source.name, job.period, earlier.file_name,
                         f"already {earlier.state}"])
        else:
            to = ", ".join(spec.recipients) if spec.routing == "simple" else "routed (dynamic)"
            rows.append(["send", spec.municipality.key, spec.source.name, job.period, name,
                         f"as {spec.link.user} to {to}"])
    rt.journal.close()
    for line in table(["ACTION", "MUNICIPALITY", "SOURCE", "PERIOD", "FILE", "NOTE"], rows):
        print(line)
    return 0 if not rt.problems else 1
