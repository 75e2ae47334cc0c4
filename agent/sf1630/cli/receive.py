"""``sf1630 receive``: one receive round now: download, delete remotely, load, then exit."""

# Late imports inside the functions: a command loads its work only when it runs (start-up time).

from __future__ import annotations

import argparse
from typing import Any

from sf1630.cli.jobargs import add_job_args, add_wait_arg


def register(subparsers: Any) -> None:
    """Add the `receive` command."""
    parser = subparsers.add_parser(
        "receive", help="receive and load waiting deliveries once, now",
        description="For each selected receiving account: finish unfinished receives, retry quarantined "
                    "loads, then download every delivery waiting in IN/, delete it from the server and load "
                    "it through the configured sinks. Exit 0 when everything loaded, 1 otherwise.")
    add_job_args(parser, sources=False)
    add_wait_arg(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the request from the arguments, have it carried out, print its outcome."""
    from sf1630.agent.requests import ReceiveRequest
    from sf1630.cli import jobargs

    cfg = jobargs.load(args)
    selection = jobargs.selection(args, cfg, "receive")  # exit 2 when it names nothing configured
    return jobargs.carry_out(cfg, ReceiveRequest(selection, dry_run=args.dry_run), no_wait=args.no_wait)
