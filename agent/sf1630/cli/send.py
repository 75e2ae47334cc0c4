"""``sf1630 send``: send every configured extract now (resuming unfinished ones first), then exit."""

from __future__ import annotations

import argparse
import asyncio
import re
from typing import Any

from sf1630.cli.jobargs import add_job_args

PERIOD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,31}")  # it becomes part of a file name (rule 7)


def register(subparsers: Any) -> None:
    """Add the `send` command."""
    parser = subparsers.add_parser(
        "send", help="send the configured extracts once, now",
        description="Finish unfinished sends, then produce and send each selected extract for the current "
                    "period, wait for the receipts and print the result. An extract already sent for its "
                    "period is not sent again, unless --resend asks for it with a reason. "
                    "Exit 0 when everything is delivered, 1 otherwise.")
    add_job_args(parser)
    parser.add_argument("--period", metavar="P",
                        help="the period to send (e.g. M03) instead of the current one; never one already sent, "
                             "unless with --resend")
    parser.add_argument("--resend", action="store_true",
                        help="produce the extract of --period again as a new, distinct delivery (a new file name "
                             "and SendersFileId) although it was delivered; needs --municipality, --source, "
                             "--period and --reason, and journals the reason and who ran it")
    parser.add_argument("--reason", metavar="TEXT", help="why the period is sent again (with --resend)")
    parser.add_argument("--catch-up", action="store_true",
                        help="send every period not yet delivered: each failed one and the current one, or with "
                             "--since every period from P on")
    parser.add_argument("--since", metavar="P", help="with --catch-up: the first period to send (e.g. M01)")
    parser.set_defaults(func=run)


RESEND_NEEDS = (("municipality", "--municipality KEY"), ("source", "--source NAME"), ("period", "--period P"),
                ("reason", "--reason TEXT"))


def check_resend(args: argparse.Namespace) -> None:
    """Refuse a bad --period, and a --resend without one municipality, source, period and reason (issue #14)."""
    from sf1630.errors import ConfigError

    if args.period and not PERIOD.fullmatch(args.period):
        raise ConfigError(f"--period {args.period!r}: write the period as in the file names, e.g. M03 "
                          "(letters, digits and '-')")
    if not args.resend:
        if args.reason:
            raise ConfigError("--reason goes with --resend; add --resend to send a delivered period again")
        return
    missing = [flag for name, flag in RESEND_NEEDS if not _given(getattr(args, name, None))]
    several = [f"--{name}" for name in ("municipality", "source") if len(getattr(args, name) or ()) > 1]
    if missing or several:
        problem = f"it lacks {', '.join(missing)}" if missing else f"give one {' and one '.join(several)}"
        raise ConfigError(f"sf1630 send --resend: {problem}. A resend names exactly one municipality, one "
                          "source, the period and the reason, e.g. sf1630 send --resend --municipality "
                          "ikast-brande --source ky --period M03 --reason \"the LIS lost the March load\"")


def check_catch_up(args: argparse.Namespace) -> None:
    """--catch-up goes with neither --period, --resend nor --dry-run; --since needs --catch-up."""
    from sf1630.errors import ConfigError

    if args.since and not args.catch_up:
        raise ConfigError("--since goes with --catch-up: sf1630 send --catch-up --since M01")
    if args.since and not PERIOD.fullmatch(args.since):
        raise ConfigError(f"--since {args.since!r}: write the period as in the file names, e.g. M03")
    clash = [flag for flag, on in (("--period", args.period), ("--resend", args.resend),
                                   ("--dry-run", getattr(args, "dry_run", False))) if on]
    if args.catch_up and clash:
        raise ConfigError(f"--catch-up sends every period not yet delivered; it does not go with {', '.join(clash)}")


def _given(value: Any) -> bool:
    return bool(value.strip()) if isinstance(value, str) else bool(value)


def resend_by() -> str:
    """Who runs this resend: the OS user, and the user behind sudo when there is one (issue #14)."""
    import os
    import pwd

    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = f"uid {os.getuid()}"
    sudo = os.environ.get("SUDO_USER")
    return f"{user} (sudo by {sudo})" if sudo and sudo != user else user


def run(args: argparse.Namespace) -> int:
    """Run one send round; print a table of the transfers."""
    from sf1630.cli import jobargs
    from sf1630.agent.runtime import work_lock

    check_resend(args)
    check_catch_up(args)
    cfg = jobargs.load(args)
    send = {"period": args.period} if args.period else {}
    if args.resend:
        send.update(resend_reason=args.reason.strip(), resend_by=resend_by())
    if args.catch_up:
        send = {"catch_up": True, "since": args.since}
    selection = jobargs.selection(args, cfg, "send")  # exit 2 when it names nothing configured
    if args.dry_run:
        return dry_run(cfg, selection, **send)
    with work_lock(cfg.journal):
        return asyncio.run(_send(cfg, selection, **send))


async def _send(cfg: Any, selection: Any, **send: Any) -> int:
    from sf1630.cli.jobargs import install_stop
    from sf1630.agent.flow import catch_up, send_round
    from sf1630.ops.progress import ProgressLine
    from sf1630.ops.report import transfer_table
    from sf1630.agent.runtime import build_runtime

    stop = asyncio.Event()
    install_stop(stop)
    progress = ProgressLine("send")
    rt = build_runtime(cfg, command="send", emitters=[progress])
    try:
        progress.total = len(rt.send_specs(selection)) or None
        if send.get("resend_reason"):
            _note_resend(rt, selection, send["period"])  # ConfigError when nothing matches
        if send.pop("catch_up", False):
            summary = await catch_up(rt, selection, stop, **send)
        else:
            summary = await send_round(rt, selection, stop, **send)
    finally:
        progress.finish()
        await rt.aclose()
    for line in transfer_table(summary.transfers):
        print(line)
    if not summary.transfers:
        print("nothing to send: no [[send]] matches the selection")
    return 0 if summary.ok and not rt.problems else 1


def _note_resend(rt: Any, selection: Any, period: str) -> None:
    """Say which delivery a resend repeats, or that there was none (it is sent all the same)."""
    from sf1630.errors import ConfigError

    specs = rt.send_specs(selection)
    if not specs:
        known = sorted({f"{m.municipality.key} {s.source}" for m in rt.config.municipalities for s in m.sends})
        raise ConfigError(f"nothing to resend: no [[send]] of municipality {selection.municipalities[0]!r} and "
                          f"source {selection.sources[0]!r} is configured{' or usable' if rt.problems else ''}; "
                          f"configured: {', '.join(known) or 'none'}")
    for spec in specs:
        earlier = [t for t in rt.journal.transfers(kind="send", municipality=spec.municipality.key,
                                              source=spec.source.name, states=["delivered"], limit=None)
                   if t.period == period and t.recipient == spec.recipient_code]
        what = f"again after {', '.join(t.file_name for t in earlier)}" if earlier else "(no earlier delivery found)"
        print(f"resending {spec.municipality.key} {spec.source.name} {period} {what}")


def dry_run(cfg: Any, selection: Any, *, period: str | None = None, resend_reason: str | None = None,
            resend_by: str | None = None) -> int:
    """Print what a send round would do, changing nothing (no journal is created)."""
    from datetime import datetime

    from sf1630.core import steps
    from sf1630.cli.jobargs import EmptyJournal
    from sf1630.journal import exists as journal_exists
    from sf1630.agent.flow import make_sender
    from sf1630.ops.report import table
    from sf1630.agent.runtime import build_runtime

    journal = None if journal_exists(cfg.journal) else EmptyJournal()
    rt = build_runtime(cfg, journal=journal)
    sender = make_sender(rt, asyncio.Event())
    rows, now = [], datetime.now().replace(microsecond=0)
    for t in rt.journal.transfers(kind="send", states=steps.SEND_OPEN, limit=None):
        if selection.takes(t.municipality or "", t.source):
            rows.append(["resume", t.municipality, t.source, t.period, t.file_name, f"from {t.state}"])
    for spec in rt.send_specs(selection):
        job, name = sender.plan(spec, now, period)
        earlier = sender.already_sent(spec, job.period)
        if resend_reason is not None:
            rows.append(["resend", spec.municipality.key, spec.source.name, job.period, name,
                         f"reason: {resend_reason} (by {resend_by})"])
        elif earlier is not None:
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
