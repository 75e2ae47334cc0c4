"""``sf1630 config check``: report every problem of a config with file, line and key (issue #13)."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("config", help="work with the agent's configuration",
                                   description="Work with the agent's configuration.")
    commands = parser.add_subparsers(dest="config_command", metavar="SUBCOMMAND")
    check = commands.add_parser(
        "check", help="check the agent file and every municipality file",
        description="Check the agent file, every municipality file and each plugin's options. Prints every "
                    "problem as FILE:LINE: KEY: MESSAGE and exits 1, or prints a summary and exits 0.")
    check.add_argument("--config", metavar="FILE", help="the agent file (default: $SF1630_CONFIG or ./agent.toml)")
    check.add_argument("--env", help="the environment to check (default: $SF1630_ENV or [agent].environment)")
    check.add_argument("--no-plugins", action="store_true", help="check the files only, without loading plugins")
    check.set_defaults(func=run_check)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_check(args: argparse.Namespace) -> int:
    from sf1630.config import check_config, config_path, load_config, make_host_for, read_config

    path = config_path(args.config)
    host = None if args.no_plugins else make_host_for(path, args.env)
    problems = check_config(path, host, args.env)
    for warning in read_config(path, args.env).warnings:
        print(f"warning: {warning}")
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) found in {path} and its municipality files", file=sys.stderr)
        return 1
    cfg = load_config(path, args.env)
    plugins = "" if host is not None else " (plugin options not checked)"
    print(f"ok: {len(cfg.municipalities)} municipalities, {cfg.jobs()} jobs, environment "
          f"{cfg.environment.name}{plugins}")
    return 0
