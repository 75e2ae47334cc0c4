"""``sf1630 demo``: simulator, five sources, two municipalities, two LIS, SQLite -- checked end to end."""

from __future__ import annotations

# Late imports inside the functions: every command module loads when `sf1630` starts (see main.py).

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
    parser.add_argument("--serve", action="store_true",
                        help="then keep both sites running with their status pages served, until Ctrl-C")
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
    if args.serve:
        result = asyncio.run(_serve(workdir, args.rows))
    else:
        result = asyncio.run(run_demo(workdir, rows=args.rows))
        for line in summary(result):
            print(line)
    return 0 if result.ok else 1


async def _serve(workdir: Path, rows: int) -> Any:
    """The demo, then its two sites as services with their pages until SIGINT/SIGTERM (issue #24)."""
    import asyncio
    import time

    from sf1630.agent.demo import run_demo, serve_sites, summary
    from sf1630.cli.jobargs import install_stop
    from sf1630.cli.status import collect

    stop = asyncio.Event()
    install_stop(stop)

    def listening(name: str, server: Any) -> None:
        print(f"{name}: status page on {server.url} (also /api/status, /healthz, /metrics)", flush=True)

    async def then(result: Any, configs: list[Path]) -> None:
        for line in summary(result):
            print(line)
        if not result.ok:
            return
        print("", flush=True)
        await serve_sites(configs, stop, listening=listening,
                          status=lambda cfg: lambda: collect(cfg, 20, time.time()))
        print("stopped: the platform simulator and both sites")

    return await run_demo(workdir, rows=rows, then=then)
