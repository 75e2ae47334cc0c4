"""``sf1630 keys``: make a new SSH key for an account (rollover) and list the accounts' keys (issue #14).

A rollover: ``keys new`` writes a dated ed25519 key pair beside the account's first key and prints
the public key to register with the platform. The account then lists both keys (the transport tries
them in order, so the old key goes on working until the platform drops it); once the platform takes
the new key, the old one is removed from the list.
"""

from __future__ import annotations

# Late imports inside the functions: every command module loads when `sf1630` starts (see main.py).

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import date


def register(subparsers: Any) -> None:
    """Add the `keys` command with `new` and `list`."""
    parser = subparsers.add_parser("keys", help="make a new SSH key for an account; list keys and their age",
                                   description="Manage the accounts' SSH keys (key rotation, issue #14).")
    sub = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    new = sub.add_parser("new", help="write a new ed25519 key pair (0600) beside the account's first key",
                         description="Write a new ed25519 key pair, named with today's date, beside the "
                                     "account's first key; encrypted with the account's passphrase when it has "
                                     "one. Prints the public key to register with the platform, its SHA256 "
                                     "fingerprint and the keys line for the account. Changes no config file.")
    new.add_argument("--account", required=True, metavar="NAME", help="the account, as in [accounts.NAME]")
    listing = sub.add_parser("list", help="each account's keys: fingerprint, age and mode")
    listing.add_argument("--account", metavar="NAME", help="only this account")
    for p in (new, listing):
        p.add_argument("--config", metavar="FILE", help="agent config (default: $SF1630_CONFIG or ./agent.toml)")
        p.add_argument("--env", metavar="NAME", help="environment, e.g. test or production")
        p.add_argument("--json", action="store_true", help="print JSON")
    new.set_defaults(func=run_new)
    listing.set_defaults(func=run_list)


def run_new(args: argparse.Namespace) -> int:
    """Write the key pair and print what to do with it."""
    from sf1630.config.load import config_path, load_config

    cfg = load_config(config_path(args.config), args.env)
    account = _account(cfg, args.account)
    result = new_key(account, cfg.path)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"Wrote a new ed25519 key pair for account {account.name} (SFTP user {account.user}):\n"
          f"  private key  {result['private_key']}  (mode 0600{', encrypted' if result['encrypted'] else ''})\n"
          f"  public key   {result['public_key_file']}\n\n"
          f"1. Register this public key with the platform for user {account.user}:\n\n"
          f"   {result['public_key']}\n\n"
          f"   fingerprint: {result['fingerprint']}\n\n"
          f"2. {_step_two(account.name, cfg.path, result['missing_keys'])}\n\n"
          f"   {result['toml']}\n\n"
          f"3. When the platform has taken the new key (`sf1630 doctor` shows the key each account logs in "
          f"with), remove the old key from the list and ask the platform to remove it.")
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print each account's keys with fingerprint, age and mode."""
    from sf1630.config.load import config_path, load_config

    cfg = load_config(config_path(args.config), args.env)
    names = [args.account] if args.account else sorted(cfg.accounts)
    rows = [describe(_account(cfg, n), path, i, cfg.key_max_age_days) for n in names
            for i, path in enumerate(_account(cfg, n).keys)]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            age = "missing" if r["age_days"] is None else f"{r['age_days']:.0f} days{' (old)' if r['old'] else ''}"
            print(f"{r['account']:<12} {r['order']}. {r['path']}  {r['fingerprint'] or '-'}  {age}  {r['mode'] or ''}")
    return _missing(rows, cfg.path)


def _missing(rows: list[dict[str, Any]], config_file: Path) -> int:
    """1 with one line on stderr per account whose listed key files do not exist, else 0."""
    import sys

    missing: dict[str, list[str]] = {}
    for r in rows:
        if r["age_days"] is None:
            missing.setdefault(r["account"], []).append(r["path"])
    for account, paths in missing.items():
        print(f"sf1630: error: account {account} lists key files that do not exist: {', '.join(paths)}; "
              f"make one with `sf1630 keys new --account {account}` or correct its keys in {config_file}",
              file=sys.stderr)
    return 1 if missing else 0


def _step_two(account: str, config_file: Path, missing: list[str]) -> str:
    where = f"[accounts.{account}] in {config_file}"
    if not missing:
        return f"Add it to {where}, after the key in use (keys are tried in order):"
    return (f"Set the keys of {where} to this line ({', '.join(missing)} left out: "
            f"no such file):")


def new_key(account: Any, config_file: Path, today: date | None = None) -> dict[str, Any]:
    """Write ``<first key>_<YYYYMMDD>`` (and ``.pub``) for ``account``; what was written, as a dict."""
    import socket
    from datetime import date

    from sf1630.transport.auth import Secret
    from sf1630.transport.keys import new_ed25519

    passphrase = Secret(account.passphrase_env, account.passphrase_file).read()
    path = _new_path(account.keys[0], today or date.today())
    comment = f"sf1630 {account.user} {socket.gethostname()} {(today or date.today()).isoformat()}"
    key = new_ed25519(comment, passphrase)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_new(path, key.private, 0o600)
    public = key.public
    _write_new(path.with_name(path.name + ".pub"), (public + "\n").encode(), 0o644)
    toml, missing = _keys_line(account, config_file, path)
    return {"account": account.name, "user": account.user, "private_key": str(path),
            "public_key_file": f"{path}.pub", "public_key": public, "fingerprint": key.fingerprint,
            "encrypted": passphrase is not None, "toml": toml, "missing_keys": missing}


def describe(account: Any, path: Path, order: int, max_days: int) -> dict[str, Any]:
    """One key of an account: fingerprint (from its .pub or the key), age and mode."""
    from sf1630.ops.doctor.keyfiles import key_age_days

    row = {"account": account.name, "order": order + 1, "path": str(path), "fingerprint": None,
           "age_days": None, "old": False, "mode": None}
    if path.is_file():
        row["age_days"] = round(key_age_days(path), 1)
        row["old"] = row["age_days"] > max_days
        row["mode"] = f"{path.stat().st_mode & 0o777:04o}"
        row["fingerprint"] = _fingerprint(path)
    return row


def _fingerprint(path: Path) -> str | None:
    from sf1630.transport.keys import public_fingerprint

    return public_fingerprint(path.with_name(path.name + ".pub"))


def _account(cfg: Any, name: str) -> Any:
    from sf1630.errors import ConfigError

    if name not in cfg.accounts:
        known = ", ".join(sorted(cfg.accounts)) or "none"
        raise ConfigError(f"no account {name!r} in {cfg.path} (accounts: {known})")
    return cfg.accounts[name]


def _new_path(first: Path, today: date) -> Path:
    from sf1630.ops.doctor.keyfiles import DATED

    base = DATED.sub("", first.name)  # ky_ed25519_20250101 -> ky_ed25519
    path = first.with_name(f"{base}_{today:%Y%m%d}")
    n = 2
    while path.exists() or path.with_name(path.name + ".pub").exists():
        path = first.with_name(f"{base}_{today:%Y%m%d}_{n}")
        n += 1
    return path


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` (never over an existing file), write and fsync it."""
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have taken bits; make it exact
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _keys_line(account: Any, config_file: Path, path: Path) -> tuple[str, list[str]]:
    """``keys = [...]``: the existing keys as written in the config file, then the new one; and the
    keys left out because no such file exists (a fresh site lists a key not made yet)."""
    import tomllib

    written = [str(p) for p in account.keys]
    try:
        table = tomllib.loads(config_file.read_text(encoding="utf-8"))["accounts"][account.name]
        if len(table["keys"]) == len(written):
            written = list(table["keys"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        pass
    try:
        new = str(path.relative_to(config_file.parent))
    except ValueError:
        new = str(path)
    kept = [k for k, p in zip(written, account.keys) if p.is_file()]
    missing = [k for k, p in zip(written, account.keys) if not p.is_file()]
    return "keys = [" + ", ".join(json.dumps(k) for k in [*kept, new]) + "]", missing
