"""`sf1630 deploy`: install or upgrade the executable on the hosts of an inventory (issue #10).

    sf1630 deploy --inventory deploy.toml [--host NAME]... [--dry-run] [--binary PATH]
    sf1630 deploy rollback --inventory deploy.toml [--host NAME]...
    sf1630 deploy status --inventory deploy.toml [--host NAME]...
"""

from __future__ import annotations

# Late imports inside the functions: every command module loads when `sf1630` starts (see main.py).

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "deploy", help="install, upgrade or roll back the agent on remote hosts over SSH",
        description="Install or upgrade the sf1630 executable, its config, municipality files and plugins "
                    "on every host of an inventory; roll back one release; show what each host runs.")
    parser.add_argument("action", nargs="?", choices=["rollback", "status"],
                        help="rollback: go back one release; status: each host's running release and last deploy "
                             "(default: deploy)")
    parser.add_argument("--inventory", "-i", type=Path, default=Path("deploy.toml"), metavar="FILE",
                        help="the inventory (default: deploy.toml)")
    parser.add_argument("--host", action="append", default=[], metavar="NAME",
                        help="only this host (repeat for more; default: every host)")
    parser.add_argument("--dry-run", action="store_true", help="print what each host would get; change nothing")
    parser.add_argument("--binary", type=Path, metavar="PATH",
                        help="the executable to deploy (default: [deploy] binary, else dist/sf1630)")
    parser.add_argument("--parallel", type=int, metavar="N", help="hosts at once (default: [deploy] parallel)")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging

    from sf1630.deploy import report, runner
    from sf1630.deploy.inventory import load_inventory
    from sf1630.deploy.state import local_release

    logging.getLogger("paramiko").setLevel(logging.WARNING)  # one line per channel otherwise
    inventory = load_inventory(args.inventory)
    hosts = inventory.select(args.host)
    parallel = args.parallel or inventory.parallel
    if args.action == "status":
        reports = runner.status(hosts, parallel)
    elif args.action == "rollback":
        reports = runner.rollback(hosts, parallel)
    else:
        release = local_release(args.binary or inventory.binary or Path("dist/sf1630"))
        work = runner.dry_run if args.dry_run else runner.deploy
        reports = work(hosts, release, parallel)
    if args.json:
        print(report.render_json(reports))
    elif args.action == "status":
        print(report.render_status(reports))
    else:
        _print_plans(reports)
        print(report.render_table(reports))
    return 0 if all(r.ok for r in reports) else 1


def _print_plans(reports: list) -> None:
    for r in reports:
        for line in r.details.get("would", []):
            print(f"{r.host}: would {line}")
