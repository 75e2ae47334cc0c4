"""``sf1630 send``: send every configured extract now (resuming unfinished ones first), then exit."""

# Late imports inside the functions: a command loads its work only when it runs (start-up time).

from __future__ import annotations

import argparse
import re
from typing import Any

from sf1630.cli.jobargs import add_job_args, add_wait_arg

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
    add_wait_arg(parser)
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


def run(args: argparse.Namespace) -> int:
    """Build the request from the arguments, have it carried out, print its outcome."""
    from sf1630.agent.requests import SendRequest
    from sf1630.cli import jobargs

    check_resend(args)
    check_catch_up(args)
    cfg = jobargs.load(args)
    resend = args.reason.strip() if args.resend else None
    request = SendRequest(jobargs.selection(args, cfg, "send"),  # exit 2 when it names nothing configured
                          period=None if args.catch_up else args.period, resend_reason=resend,
                          resend_by=jobargs.resend_by() if resend else None, catch_up=args.catch_up,
                          since=args.since if args.catch_up else None, dry_run=args.dry_run)
    return jobargs.carry_out(cfg, request, no_wait=args.no_wait)
