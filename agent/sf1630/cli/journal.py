"""``sf1630 journal migrate --to postgresql://…``: move a SQLite journal into PostgreSQL (issue #21)."""

# Late imports inside the functions: a command loads its work only when it runs (start-up time).

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("journal", help="work with the agent's journal",
                                   description="Work with the agent's journal.")
    commands = parser.add_subparsers(dest="journal_command", metavar="SUBCOMMAND")
    migrate = commands.add_parser(
        "migrate", help="copy this site's SQLite journal into a PostgreSQL one",
        description="Copy the history and the open work of the SQLite journal named by [agent] journal into the "
                    "PostgreSQL journal at --to, so that several processes and hosts can share the site. Stop the "
                    "service first; then set [agent] journal (or journal_env) to the URL and start it again: it "
                    "resumes every open transfer from its journalled step.")
    migrate.add_argument("--config", metavar="FILE", help="the agent file (default: $SF1630_CONFIG or ./agent.toml)")
    migrate.add_argument("--env", help="the environment (default: $SF1630_ENV or [agent].environment)")
    migrate.add_argument("--to", required=True, metavar="URL",
                         help="the PostgreSQL journal, postgresql://user@host:port/database (the password from "
                              "~/.pgpass or PGPASSWORD)")
    migrate.add_argument("--force", action="store_true", help="replace what the target journal holds")
    migrate.set_defaults(func=run_migrate)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_migrate(args: argparse.Namespace) -> int:
    from sf1630.agent.runtime import work_lock
    from sf1630.config.load import config_path, load_config
    from sf1630.errors import Sf1630Error, UsageError
    from sf1630.journal import describe, is_url
    from sf1630.journal.move import copy_journal

    cfg = load_config(config_path(args.config), args.env)
    if is_url(cfg.journal):
        raise UsageError(f"the journal of this site is already {describe(cfg.journal)}; migrate copies a SQLite "
                         "journal into PostgreSQL")
    if not is_url(args.to):
        raise UsageError(f"--to {args.to!r}: give a postgresql:// URL")
    try:
        with work_lock(cfg.journal):  # no send, receive or run may write the journal while it is copied
            copied = copy_journal(Path(cfg.journal), args.to, force=args.force)
    except Sf1630Error as exc:
        if "another sf1630 process" in str(exc):
            raise Sf1630Error(f"{exc}. The journal is copied only while nothing writes it") from None
        raise
    counts = ", ".join(f"{n} {table}" for table, n in copied.items())
    print(f"copied {cfg.journal} into {describe(args.to)}: {counts}")
    print("now set [agent] journal (or journal_env) to that URL and start sf1630 run")
    return 0
