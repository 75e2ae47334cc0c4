"""``sf1630 demo``: simulator, five sources, two municipalities, two LIS, SQLite -- checked end to end."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `demo` command."""
    parser = subparsers.add_parser(
        "demo", help="run the whole SF1630 flow locally and check it",
        description="Start the platform simulator in-process on a free port with fresh keys, send extracts "
                    "from DUBU, KY, KSD (simple routing) and AULA, KP (dynamic routing) for two "
                    "municipalities to one LIS user each, receive and load them into SQLite, and print a "
                    "summary. Exit 0 only if every file arrived exactly once with every row.")
    parser.add_argument("--workdir", type=Path, metavar="DIR",
                        help="folder for keys, configs, platform files and the database "
                             "(default: a new temporary folder, kept so that you can look at it)")
    parser.add_argument("--rows", type=int, default=1000, metavar="N", help="rows per extract (default 1000)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo and print its summary."""
    import asyncio
    import tempfile

    from sf1630.agent.demo import run_demo, summary

    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        if any(args.workdir.iterdir()):
            print(f"sf1630 demo: {args.workdir} is not empty; choose an empty or new folder")
            return 2
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="sf1630-demo-"))).resolve()
    if (args.log_level or "INFO").upper() == "INFO":  # the summary says it all; warnings and errors still show
        logging.getLogger().setLevel(logging.WARNING)
    result = asyncio.run(run_demo(workdir, rows=args.rows))
    for line in summary(result):
        print(line)
    return 0 if result.ok else 1
