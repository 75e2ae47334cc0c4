"""``sf1630 plugins``: every plugin with its version, origin, hooks and what it provides.

Built-ins, entry points and ``plugin_paths`` folders are listed in load order, disabled and
failed ones too (with the error). The exit status is 1 when a plugin failed to load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plugins", help="list plugins: name, version, origin, hooks",
        description="List every plugin the agent loads (built-ins, entry points of the 'sf1630' group, "
                    "plugin_paths folders) with its version, origin, hooks and the sources and sinks it provides.")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    parser.add_argument("--config", metavar="FILE",
                        help="agent file whose plugin_paths and disabled_plugins apply "
                             "(default: $SF1630_CONFIG, or ./agent.toml when it exists)")
    parser.add_argument("--plugin-path", action="append", default=[], metavar="DIR",
                        help="a further plugin folder (repeatable)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sf1630.plugins import make_plugin_host

    host = make_plugin_host(_config(args.config), plugin_paths=args.plugin_path)
    listing = describe(host)
    if args.json:
        sys.stdout.write(json.dumps(listing, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render(listing))
    return 1 if host.failures() else 0


def describe(host: Any) -> list[dict[str, Any]]:
    """Each plugin as plain data (the ``--json`` form)."""
    provides: dict[str, dict[str, list[str]]] = {}
    for kind, table in (("sources", host.sources()), ("sinks", host.sinks())):
        for name in table:
            owner = host.owner(kind[:-1], name)
            provides.setdefault(owner, {"sources": [], "sinks": []})[kind].append(name)
    return [{"name": p.name, "version": p.version, "origin": p.origin, "status": p.status,
             "hooks": list(p.hooks), "provides": provides.get(p.name, {"sources": [], "sinks": []}),
             **({"error": p.error} if p.error else {})} for p in host.plugins()]


def render(listing: list[dict[str, Any]]) -> str:
    """A table for people; errors of failed plugins below it."""
    rows = [("NAME", "VERSION", "STATUS", "PROVIDES", "HOOKS", "ORIGIN")]
    for p in listing:
        provided = [f"source {n}" for n in p["provides"]["sources"]] + [f"sink {n}" for n in p["provides"]["sinks"]]
        hooks = ", ".join(h.removeprefix("sf1630_") for h in p["hooks"])
        rows.append((p["name"], p["version"] or "-", p["status"], ", ".join(provided) or "-", hooks or "-", p["origin"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)) + "  " + r[-1] for r in rows]
    lines += [f"{p['name']}: {p['error']}" for p in listing if p.get("error")]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _config(arg: str | None) -> Any:
    from sf1630.config import config_path, load_config

    path = config_path(arg)
    if arg or os.environ.get("SF1630_CONFIG") or path.exists():
        return load_config(path)
    return None
