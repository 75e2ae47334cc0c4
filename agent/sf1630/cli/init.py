"""``sf1630 init DIR``: write a starter agent file and one municipality file (issue #13), or with
``--municipalities list.csv`` a site for every municipality of the list (issue #20)."""

from __future__ import annotations

# Late imports inside the functions: every command module loads when `sf1630` starts (see main.py).

import argparse
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command's own imports wait until it runs (start-up time)
    from sf1630.config.init import Kind


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "init", help="write a starter config into a folder",
        description="Write a starter agent.toml and one municipality file into DIR, for a source-system "
                    "vendor (sends extracts) or a LIS vendor (receives and loads them).")
    parser.add_argument("dir", metavar="DIR", help="the folder to write into (created if missing)")
    parser.add_argument("--kind", choices=["source", "lis"], default="source",
                        help="source: a source-system vendor (default); lis: a LIS vendor")
    parser.add_argument("--municipality", default="example", help="the municipality's key (default: example)")
    parser.add_argument("--cvr", default="11111111", help="the municipality's CVR number (8 digits)")
    parser.add_argument("--municipalities", metavar="CSV",
                        help="a CSV list (key,name,cvr,...): write one agent file whose [defaults] every "
                             "municipality of the list inherits, and copy the list beside it")
    parser.add_argument("--force", action="store_true", help="overwrite files that exist")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sf1630.config.init import starter_files
    from sf1630.errors import ConfigError

    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", args.municipality):
        raise ConfigError(f"--municipality {args.municipality!r}: use lower-case letters, digits and '-'")
    if not re.fullmatch(r"\d{8}", args.cvr):
        raise ConfigError(f"--cvr {args.cvr!r}: a CVR number is 8 digits")
    folder = Path(args.dir).expanduser()
    files = (_site(args.kind, Path(args.municipalities)) if args.municipalities
             else starter_files(args.kind, args.municipality, args.cvr))
    existing = [name for name in files if (folder / name).exists()]
    if existing and not args.force:
        verb, them = ("exists", "it") if len(existing) == 1 else ("exist", "them")
        raise ConfigError(f"{folder}: {' and '.join(existing)} {verb} already; nothing was written. Check the "
                          f"existing config with `sf1630 config check --config {folder / 'agent.toml'}`, choose "
                          f"another DIR, or pass --force to overwrite {them}")
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    keys = folder / "keys"
    keys.mkdir(mode=0o700, exist_ok=True)  # private keys live here, owner-only
    os.chmod(keys, 0o700)
    _next_steps(folder, args.kind, bool(args.municipalities))
    return 0


def _site(kind: Kind, csv: Path) -> dict[str, str]:
    """The site's files, after the list is checked: every problem with its line."""
    from sf1630.config.csvlist import read_rows
    from sf1630.config.init import site_files
    from sf1630.config.municipality import CVR
    from sf1630.errors import ConfigError

    problems: list = []
    rows = read_rows(csv.expanduser().resolve(), problems)
    problems += [f"{r.path}:{r.line}: cvr: {r.identity.get('cvr', '')!r} is not a CVR number (8 digits)"
                 for r in rows if not CVR.fullmatch(r.identity.get("cvr", ""))]
    if problems or not rows:
        found = "\n".join(map(str, problems)) or f"{csv}: no municipality in the list"
        raise ConfigError(f"--municipalities {csv}: fix the list first:\n{found}")
    print(f"{len(rows)} municipalities in {csv}")
    return site_files(kind, csv.read_text(encoding="utf-8-sig"))


def _next_steps(folder: Path, kind: str, site: bool = False) -> None:
    config = folder / "agent.toml"
    what = "the CVR numbers in municipalities.csv and [defaults]" if site else "the municipality file (CVR"
    what += f"{' (' if site else ', '}{'recipients' if kind == 'source' else 'sinks'})"
    print(f"""
Next:
  1. Make an SSH key for each account in {config} (e.g. ssh-keygen -t ed25519 -f {folder}/keys/...)
     and register its public key with the platform.
  2. Put the platform's host key into the environment's known_hosts file.
  3. Edit {what}, then run:
     sf1630 config check --config {config}""")
