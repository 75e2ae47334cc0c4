"""``sf1630 doctor``: check the config, keys, known_hosts, connections, journal and local files; say what to fix."""

from __future__ import annotations

# Late imports inside the functions: every command module loads when `sf1630` starts (see main.py).

import argparse
from typing import Any

LABELS = {"ok": "ok", "warn": "warn", "error": "ERROR"}


def register(subparsers: Any) -> None:
    """Add the `doctor` command."""
    parser = subparsers.add_parser(
        "doctor", help="check the installation and print what to fix",
        description="Check the config and plugin options, the alert channels, each account's keys "
                    "(owner-only, readable, age), known_hosts, that each account can log in and list IN/ "
                    "and OUT/, that each sink can be reached and written (a write rolled back) and each source "
                    "adapter read, the journal, and that the agent's files are owner-only and kept no longer than "
                    "keep_days. Changes nothing. Exit 0 when there is no error (warnings allowed), 1 otherwise.")
    parser.add_argument("--config", metavar="FILE", help="agent config (default: $SF1630_CONFIG or ./agent.toml)")
    parser.add_argument("--env", metavar="NAME", help="environment to check, e.g. test or production")
    parser.add_argument("--offline", action="store_true", help="do not connect to the platform")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                        help="per connection step (default 10)")
    parser.add_argument("--test-alert", action="store_true",
                        help="send one test alert through each channel of [alerts]")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run every check and print the findings; 1 when any is an error."""
    import logging

    from sf1630.config.load import config_path
    from sf1630.ops.doctor import diagnose, summary

    # The findings say what the connections did; the transport's own INFO lines would repeat it.
    logging.getLogger("sf1630.transport").setLevel(max(logging.WARNING, logging.getLogger().level))
    findings = diagnose(config_path(args.config), args.env, connect=not args.offline, timeout=args.timeout,
                        test_alert=args.test_alert)
    errors, warnings = summary(findings)
    if args.json:
        import json

        from sf1630.ops.doctor import as_dict

        print(json.dumps({"errors": errors, "warnings": warnings, "findings": [as_dict(f) for f in findings]},
                         indent=2, ensure_ascii=False))
    else:
        _print(findings, errors, warnings)
    return 1 if errors else 0


def _print(findings: list, errors: int, warnings: int) -> None:
    width = max((len(f.topic) for f in findings), default=0)
    for f in findings:
        print(f"{LABELS[f.level]:<5}  {f.topic:<{width}}  {f.message}")
        if f.fix:
            print(f"{'':<5}  {'':<{width}}  fix: {f.fix}")
    if errors:
        print(f"\n{errors} error(s), {warnings} warning(s): fix the errors above, then run `sf1630 doctor` again.")
    elif warnings:
        print(f"\nno errors, {warnings} warning(s).")
    else:
        print("\nall checks passed.")
