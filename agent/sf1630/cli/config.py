"""``sf1630 config check``: report every problem of a config with file, line and key (issue #13);
``sf1630 config show --municipality M``: what one municipality ends up with, and from where (issue #20)."""

from __future__ import annotations

# Late imports inside the functions: every command module loads when `sf1630` starts (see main.py).

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
    show = commands.add_parser(
        "show", help="print one municipality's configuration with where each value came from",
        description="Print the configuration one municipality ends up with (the agent file's [defaults], its "
                    "line of a municipality CSV, its own file), each value followed by the FILE:LINE that wrote it.")
    show.add_argument("--config", metavar="FILE", help="the agent file (default: $SF1630_CONFIG or ./agent.toml)")
    show.add_argument("--env", help="the environment (default: $SF1630_ENV or [agent].environment)")
    show.add_argument("--municipality", "-m", metavar="KEY", required=True, help="the municipality's key")
    show.set_defaults(func=run_show)
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
    print(f"ok: {len(cfg.municipalities)} municipalities, {cfg.jobs()} jobs, {len(cfg.accounts)} accounts, "
          f"connections_per_host {cfg.connections_per_host}, environment {cfg.environment.name}{plugins}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from sf1630.config import config_path, read_config
    from sf1630.config.show import show_municipality
    from sf1630.errors import ConfigError

    path = config_path(args.config)
    result = read_config(path, args.env)
    found = [m for m in result.municipalities if m.municipality.key == args.municipality]
    if not found:
        known = ", ".join(m.municipality.key for m in result.municipalities) or "none could be read"
        raise ConfigError(f"no municipality {args.municipality!r} in {path} (known: {known})")
    accounts = result.config.accounts if result.config else result.accounts
    print(show_municipality(found[0], path, accounts), end="")
    if result.problems:
        print(f"{len(result.problems)} problem(s) in the config; `sf1630 config check` lists them", file=sys.stderr)
        return 1
    return 0
