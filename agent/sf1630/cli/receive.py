"""``sf1630 receive``: one receive round now: download, delete remotely, load, then exit."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from sf1630.cli.jobargs import add_job_args


def register(subparsers: Any) -> None:
    """Add the `receive` command."""
    parser = subparsers.add_parser(
        "receive", help="receive and load waiting deliveries once, now",
        description="For each selected receiving account: finish unfinished receives, retry quarantined "
                    "loads, then download every delivery waiting in IN/, delete it from the server and load "
                    "it through the configured sinks. Exit 0 when everything loaded, 1 otherwise.")
    add_job_args(parser, sources=False)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run one receive round; print a table of the transfers."""
    from sf1630.cli import jobargs
    from sf1630.agent.runtime import work_lock

    cfg = jobargs.load(args)
    selection = jobargs.selection(args, cfg, "receive")  # exit 2 when it names nothing configured
    if args.dry_run:
        return asyncio.run(_dry_run(cfg, selection))
    with work_lock(cfg.journal):
        return asyncio.run(_receive(cfg, selection))


async def _receive(cfg: Any, selection: Any) -> int:
    from sf1630.cli.jobargs import install_stop
    from sf1630.agent.flow import make_receiver, receive_round
    from sf1630.ops.progress import ProgressLine
    from sf1630.ops.report import transfer_table
    from sf1630.agent.runtime import build_runtime

    stop = asyncio.Event()
    install_stop(stop)
    progress = ProgressLine("receive")
    rt = build_runtime(cfg, command="receive", emitters=[progress])
    try:
        reports = await receive_round(rt, make_receiver(rt, stop), selection)
        _check_expected(rt, selection)
    finally:
        progress.finish()
        await rt.aclose()
    transfers = [t for r in reports for t in (*r.loaded, *r.quarantined, *r.waiting)]
    for line in transfer_table(transfers):
        print(line)
    for r in reports:
        for name in r.skipped:
            print(f"{r.account}: not taken: {name} (see the log)")
        if r.error:
            print(f"{r.account}: not received: {r.error}")
    if not reports:
        print("nothing to receive: no [receive] matches the selection")
    bad = any(r.quarantined or r.waiting or r.error for r in reports) or rt.problems
    return 1 if bad else 0


def _check_expected(rt: Any, selection: Any) -> None:
    """Expected extracts past their deadline fire `missing` once, arrivals clear them (issue #14)."""
    from sf1630.receive.expect import MissingWatch, expectations

    expected = expectations(rt.config, rt.host, selection.municipalities)
    for event in MissingWatch(rt.journal, rt.emit).check(expected) if expected else ():
        e = event.expectation
        print(f"{e.municipality}: {e.source} extract due by {e.deadline:%Y-%m-%d %H:%M} "
              + (f"arrived: {e.arrived_file}" if event.cleared else "has not arrived (see sf1630 status)"))


async def _dry_run(cfg: Any, selection: Any) -> int:
    """List what waits on the server and in the journal; download, delete and load nothing."""
    from sf1630.core import steps
    from sf1630.cli.jobargs import EmptyJournal
    from sf1630.journal import exists as journal_exists
    from sf1630.ops.report import table
    from sf1630.agent.runtime import build_runtime

    rt = build_runtime(cfg, journal=None if journal_exists(cfg.journal) else EmptyJournal())
    rows = []
    try:
        for spec in rt.receive_specs(selection):
            for t in rt.journal.transfers(kind="receive", states=steps.RECEIVE_OPEN, account=spec.link.name, limit=None):
                rows.append([spec.link.name, "continue", t.file_name, f"from {t.state}"])
            async with rt.pool.session(spec.link.endpoint, spec.link.credentials) as session:
                for f in await session.listdir("IN"):
                    if f.name.endswith(".metadata"):
                        rows.append([spec.link.name, "take", f.name.removesuffix(".metadata"), f"{f.size} B metadata"])
    finally:
        await rt.aclose()
    for line in table(["ACCOUNT", "ACTION", "FILE", "NOTE"], rows):
        print(line)
    return 0 if not rt.problems else 1
