"""Checks of the accounts' private keys: present, owner-only, readable, and not too old (issue #14).

A key's age is the date in its name when ``sf1630 keys new`` wrote it (``..._20260315``), else
the file's modification time.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sf1630.errors import ConfigError
from sf1630.ops.doctor.findings import Finding, error, ok, warn
from sf1630.transport.auth import Secret, load_keys

DATED = re.compile(r"_(\d{8})(?:_\d+)?$")  # keys new: <name>_<YYYYMMDD>[_<n>]


def key_age_days(path: Path, now: float | None = None) -> float:
    """Days since the key was made: from the date in its name, else from its modification time."""
    now = time.time() if now is None else now
    match = DATED.search(path.name)
    made = None
    if match:
        try:
            made = datetime.strptime(match.group(1), "%Y%m%d").timestamp()
        except ValueError:
            made = None
    if made is None:
        made = path.stat().st_mtime
    return max(0.0, (now - made) / 86400)


def others_can_read(path: Path) -> bool:
    """True when group or others have any permission on ``path``."""
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def check_private_file(topic: str, path: Path, what: str) -> list[Finding]:
    """A secret file exists, is a regular file of ours, and only its owner may read it."""
    if not path.exists():
        return [error(topic, f"{what} {path} does not exist",
                      "create it with `sf1630 keys new --account ...` or correct the path in the config")]
    if not path.is_file():
        return [error(topic, f"{what} {path} is not a regular file", "correct the path in the config")]
    found = []
    mode = stat.S_IMODE(path.stat().st_mode)
    if others_can_read(path):
        found.append(error(topic, f"{what} {path} is readable by others (mode {mode:04o}); it must be "
                                  "readable by its owner only (OpenSSH refuses such keys too)", f"chmod 600 {shlex.quote(str(path))}"))
    if path.stat().st_uid != os.geteuid():
        found.append(warn(topic, f"{what} {path} belongs to another user (uid {path.stat().st_uid})",
                          f"chown the file to the agent's user: chown $(id -un) {shlex.quote(str(path))}"))
    return found


def check_accounts(cfg: Any, now: float | None = None) -> list[Finding]:
    """Each account's keys (and passphrase file): modes, that they can be read, and their age."""
    findings: list[Finding] = []
    for name, account in sorted(cfg.accounts.items()):
        topic = f"keys {name}"
        problems: list[Finding] = []
        for path in account.keys:
            problems += check_private_file(topic, path, "private key")
        if account.passphrase_file:
            problems += check_private_file(topic, account.passphrase_file, "passphrase file")
        if not any(f.level == "error" for f in problems):
            problems += _readable(topic, account)
        problems += _ages(topic, name, account.keys, cfg.key_max_age_days, now)
        if not problems:
            problems.append(ok(topic, f"{len(account.keys)} key(s), owner-only, readable: "
                                      + ", ".join(p.name for p in account.keys)))
        findings += problems
    return findings


def _readable(topic: str, account: Any) -> list[Finding]:
    try:
        load_keys(account.keys, Secret(account.passphrase_env, account.passphrase_file))
    except ConfigError as exc:
        return [error(topic, str(exc), "check the key files and passphrase_env / passphrase_file of the account")]
    return []


def _ages(topic: str, account: str, keys: tuple[Path, ...], max_days: int, now: float | None) -> list[Finding]:
    found = []
    for path in keys:
        if not path.is_file():
            continue
        age = key_age_days(path, now)
        if age > max_days:
            found.append(warn(topic, f"{path.name} is {age:.0f} days old (key_max_age_days = {max_days})",
                              f"rotate it: sf1630 keys new --account {account}, register the new public key "
                              "with the platform, then list it in the account's keys"))
    return found
