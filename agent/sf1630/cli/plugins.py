"""``sf1630 plugins``: every plugin with its version, origin, hooks and what it provides.

Built-ins, entry points and ``plugin_paths`` folders are listed in load order, disabled and
failed ones too (with the error). The exit status is 1 when a plugin failed to load.
``--json`` adds each source's and sink's options; ``sf1630 plugins show NAME`` prints them for people.
"""

from __future__ import annotations

# Late imports inside the functions: every command module loads when `sf1630` starts (see main.py).

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
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list instead of a table, with every source's and sink's options")
    _add_host_args(parser, None)
    commands = parser.add_subparsers(dest="plugins_command", metavar="SUBCOMMAND")
    show = commands.add_parser(
        "show", help="the options of a plugin, source or sink: name, type, default, help",
        description="Print the options of a source or sink (or of every one a plugin provides): what goes "
                    "into [send.options] or [receive.sinks.options].")
    show.add_argument("name", metavar="NAME", help="a plugin, source or sink name, e.g. ky or postgres")
    _add_host_args(show, argparse.SUPPRESS)  # not given after `show`: keep what was given before it
    show.set_defaults(func=run_show)
    parser.set_defaults(func=run)


def _add_host_args(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument("--config", metavar="FILE", default=default,
                        help="agent file whose plugin_paths and disabled_plugins apply "
                             "(default: $SF1630_CONFIG, or ./agent.toml when it exists)")
    parser.add_argument("--plugin-path", action="append", metavar="DIR", default=default,
                        help="a further plugin folder (repeatable)")


def run(args: argparse.Namespace) -> int:
    from sf1630.plugins import make_plugin_host

    host = make_plugin_host(_config(args.config), plugin_paths=args.plugin_path or [])
    listing = describe(host)
    if args.json:
        sys.stdout.write(json.dumps(listing, indent=2, ensure_ascii=False, default=str) + "\n")
    else:
        sys.stdout.write(render(listing))
    return 1 if host.failures() else 0


def run_show(args: argparse.Namespace) -> int:
    """Print the options of NAME (a plugin, a source or a sink); exit 2 when nothing has that name."""
    from sf1630.cli.jobargs import did_you_mean
    from sf1630.errors import UsageError
    from sf1630.plugins import make_plugin_host

    paths = getattr(args, "plugin_path", None) or []
    host = make_plugin_host(_config(getattr(args, "config", None)), plugin_paths=paths)
    listing = describe(host)
    plugins = [p for p in listing if p["name"] == args.name] or [
        p for p in listing if args.name in (*p["provides"]["sources"], *p["provides"]["sinks"])]
    if not plugins:
        known = sorted({p["name"] for p in listing} | {n for p in listing for kind in ("sources", "sinks")
                                                       for n in p["provides"][kind]})
        raise UsageError(f"no plugin, source or sink is named {args.name!r}{did_you_mean(args.name, known)}; "
                         f"known: {', '.join(known)} (see sf1630 plugins)")
    sys.stdout.write(render_options(plugins, only=None if plugins[0]["name"] == args.name else args.name))
    return 1 if any(p["status"] == "failed" for p in plugins) else 0


def describe(host: Any) -> list[dict[str, Any]]:
    """Each plugin as plain data (the ``--json`` form)."""
    provides: dict[str, dict[str, list[str]]] = {}
    for kind, table in (("sources", host.sources()), ("sinks", host.sinks())):
        for name in table:
            owner = host.owner(kind[:-1], name)
            provides.setdefault(owner, {"sources": [], "sinks": []})[kind].append(name)
    options = {kind: {name: _options(obj) for name, obj in table.items()}
               for kind, table in (("sources", host.sources()), ("sinks", host.sinks()))}
    listing = []
    for p in host.plugins():
        provided = provides.get(p.name, {"sources": [], "sinks": []})
        listing.append({"name": p.name, "version": p.version, "origin": p.origin, "status": p.status,
                        "hooks": list(p.hooks), "provides": provided,
                        "options": {kind: {n: options[kind][n] for n in provided[kind]} for kind in provided},
                        **({"error": p.error} if p.error else {})})
    return listing


def _options(obj: Any) -> list[dict[str, Any]]:
    """A source's or sink's options as name, type, default and help."""
    from sf1630.options import describe_options

    return [{"name": o.name, "type": o.type, "default": o.default, "help": o.help}
            for o in describe_options(obj.Options)]


def render_options(plugins: list[dict[str, Any]], only: str | None = None) -> str:
    """Each source's and sink's options as a table, under a line naming it and its plugin."""
    from sf1630.ops.report import table

    lines: list[str] = []
    for p in plugins:
        where = f"plugin {p['name']}{' ' + p['version'] if p['version'] else ''} ({p['origin']})"
        if p.get("error"):
            lines += [f"{where}: {p['status']}: {p['error']}", ""]
        for kind in ("sources", "sinks"):
            for name, options in p["options"][kind].items():
                if only in (None, name):
                    rows = [[o["name"], o["type"], _shown(o["default"]), o["help"]] for o in options]
                    lines += [f"{kind[:-1]} {name}, {where}", *table(["OPTION", "TYPE", "DEFAULT", "HELP"], rows), ""]
        if p["status"] == "disabled":
            lines += [f"{where} is disabled (disabled_plugins or SF1630_DISABLE_PLUGINS): it provides nothing", ""]
        elif not any(p["options"][kind] for kind in ("sources", "sinks")) and not p.get("error"):
            lines += [f"{where} provides no source or sink, so it has no options", ""]
    return "\n".join(lines)


def _shown(default: Any) -> str:
    return json.dumps(default, ensure_ascii=False, default=str)


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
