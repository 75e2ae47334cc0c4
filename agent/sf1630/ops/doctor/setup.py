"""Checks of the config (with the plugins' options), the alert channels and the journal."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from sf1630.config.check import check_config as check, make_host_for
from sf1630.config.load import load_config
from sf1630.ops.doctor.findings import Finding, error, ok, warn
from sf1630.errors import Sf1630Error
from sf1630.journal import JournalError, SCHEMA_VERSION, is_url
from sf1630.journal.postgres import describe, stored_version


def check_config(path: Path, env: str | None) -> tuple[list[Finding], Any, Any]:
    """Every config problem as an error; the loaded config and plugin host when there is none."""
    host = make_host_for(path, env)
    problems = check(path, host, env)
    if problems:
        return [error("config", str(p), "correct it in the file (`sf1630 config check` lists the same)")
                for p in problems], None, host
    try:
        cfg = load_config(path, env)
    except Sf1630Error as exc:
        return [error("config", str(exc))], None, host
    summary = (f"{path}: environment {cfg.environment.name} ({cfg.environment.host}:{cfg.environment.port}), "
               f"{len(cfg.accounts)} account(s), {len(cfg.municipalities)} municipality file(s), {cfg.jobs()} job(s)")
    return [ok("config", summary)], cfg, host


def check_plugins(cfg: Any, host: Any, send_test: bool = False) -> list[Finding]:
    """What each plugin's ``sf1630_doctor`` finds (the alerts plugin: where alerts go, a test alert)."""
    if host is None:
        return []
    return [Finding(c.level, c.topic, c.message, c.fix) for c in host.doctor(cfg, send_test)]


def check_journal(cfg: Any) -> list[Finding]:
    """The journal can be opened and its schema is one this agent reads (it is not changed)."""
    if is_url(cfg.journal):
        return _check_database_journal(cfg.journal)
    path = Path(cfg.journal)
    if not path.exists():
        folder = next((p for p in path.parents if p.exists()), Path("/"))
        if not os.access(folder, os.W_OK | os.X_OK):
            return [error("journal", f"{path} does not exist and {folder} is not writable for this user",
                          f"create {path.parent} owned by the agent's user (mode 0700)")]
        return [ok("journal", f"{path} not created yet; the first send, receive or run creates it")]
    try:
        version, check = _sqlite_version(path)
    except sqlite3.Error as exc:
        return [error("journal", f"{path} cannot be opened: {exc}",
                      "restore it from a backup, or move it aside to start a new one")]
    if version > SCHEMA_VERSION:
        return [error("journal", f"{path} has schema {version}, written by a newer sf1630; this one reads "
                                 f"schema {SCHEMA_VERSION} and older", "run the newer sf1630 (or upgrade this one)")]
    if check != "ok":
        return [error("journal", f"{path} is damaged: {check}", "restore it from a backup")]
    if version < SCHEMA_VERSION:
        return [warn("journal", f"{path} has schema {version}; it is migrated to {SCHEMA_VERSION} at the next "
                                "start (a copy of the old one is kept beside it)")]
    return [ok("journal", f"{path} opens, schema {version}")]


def _check_database_journal(url: str) -> list[Finding]:
    try:
        version = stored_version(url)  # read only, like the SQLite check
    except JournalError as exc:
        return [error("journal", str(exc), "check the URL, that PostgreSQL runs and that it lets this user in")]
    where = describe(url)
    if version > SCHEMA_VERSION:
        return [error("journal", f"{where} has schema {version}, written by a newer sf1630; this one reads "
                                 f"schema {SCHEMA_VERSION} and older", "run the newer sf1630 (or upgrade this one)")]
    if version < SCHEMA_VERSION:
        return [warn("journal", f"{where} has schema {version}; it is migrated to {SCHEMA_VERSION} at the next "
                                "start (take a pg_dump first if you may go back)")]
    return [ok("journal", f"{where} opens, schema {version}")]


def _sqlite_version(path: Path) -> tuple[int, str]:
    # Read-only on purpose: doctor must not migrate the journal of a running (or older) agent
    # (issue #10 runs a new binary's doctor before switching). SQLite-specific, like journal/sqlite.py.
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        check = db.execute("PRAGMA quick_check").fetchone()[0]
    finally:
        db.close()
    return version, check
