"""The SQLite journal's schema: its migrations, the upgrade with a backup, owner-only files."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sf1630.journal.base import JournalError
from sf1630.transport.privacy import private_dirs

# Each entry takes the schema from version i to i + 1. Append only; never edit a released step
# (issue #4: a journal is migrated at start, and an older agent refuses a newer journal).
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE transfers (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('send', 'receive')),
        key TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        municipality TEXT, source TEXT, account TEXT NOT NULL DEFAULT '', file_name TEXT NOT NULL DEFAULT '',
        file_transfer_uuid TEXT, size INTEGER, rows INTEGER, error TEXT, period TEXT, recipient TEXT,
        details TEXT NOT NULL DEFAULT '{}',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX transfers_kind_state ON transfers (kind, state);
    CREATE INDEX transfers_updated ON transfers (updated_at);
    CREATE TABLE history (
        id INTEGER PRIMARY KEY,
        transfer_id INTEGER NOT NULL REFERENCES transfers (id),
        state TEXT NOT NULL,
        at REAL NOT NULL,
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX history_transfer ON history (transfer_id, id);
    """,
    # Issue #14: expected extracts that did not arrive by their deadline, so each fires once.
    """
    CREATE TABLE missing (
        id INTEGER PRIMARY KEY,
        municipality TEXT NOT NULL,
        source TEXT NOT NULL,
        deadline REAL NOT NULL,
        opened REAL NOT NULL,
        fired_at REAL NOT NULL,
        cleared_at REAL,
        arrived_at REAL,
        transfer_id INTEGER,
        UNIQUE (municipality, source, deadline)
    );
    """,
    # Issue #17: what needs attention besides transfers (platform unreachable, an unexpected sender,
    # a schema change), open until resolved; at most one open record per kind and key.
    """
    CREATE TABLE problems (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        municipality TEXT, source TEXT, account TEXT, file_name TEXT,
        message TEXT NOT NULL,
        since REAL NOT NULL,
        seen_at REAL NOT NULL,
        resolved_at REAL,
        resolved_by TEXT
    );
    CREATE UNIQUE INDEX problems_open ON problems (kind, key) WHERE resolved_at IS NULL;
    """,
    # Issue #21: the processes of a site, the leases of its units of work, and operator requests
    # for a running service.
    """
    CREATE TABLE processes (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        version TEXT NOT NULL,
        started_at REAL NOT NULL,
        seen_at REAL NOT NULL,
        stopped_at REAL
    );
    CREATE TABLE leases (
        unit TEXT PRIMARY KEY,
        holder TEXT,
        epoch INTEGER NOT NULL DEFAULT 0,
        expires_at REAL NOT NULL DEFAULT 0
    );
    CREATE TABLE requests (
        id INTEGER PRIMARY KEY,
        command TEXT NOT NULL,
        args TEXT NOT NULL DEFAULT '{}',
        state TEXT NOT NULL DEFAULT 'new',
        asked_by TEXT NOT NULL DEFAULT '',
        taken_by TEXT,
        outcome TEXT,
        exit_code INTEGER,
        created_at REAL NOT NULL,
        taken_at REAL,
        done_at REAL
    );
    CREATE INDEX requests_state ON requests (state, id);
    """,
    # Issue #23: a new send first looks for an earlier one of the same municipality and source;
    # without this index that look read every send in the journal (0.4 ms at 1,470 sends).
    """
    CREATE INDEX transfers_municipality_source ON transfers (municipality, source);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the journal at ``path`` (open as ``db``, autocommit) to ``SCHEMA_VERSION``.

    An older journal is copied beside itself first; a newer one is refused.
    """
    version = _version(db, path)
    if version == SCHEMA_VERSION:
        return
    if 0 < version < SCHEMA_VERSION:
        _backup(db, path, version)
    db.execute("BEGIN IMMEDIATE")  # the write lock at once: no upgrade deadlock between two writers
    try:
        version = _version(db, path)  # another process may have migrated meanwhile
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in _statements(MIGRATIONS[target - 1]):
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def create_private(path: Path) -> None:
    """Create the journal owner-only: folder 0700, file 0600 (it names people's files, issue #14)."""
    private_dirs(path.parent, durable=True)  # every level made is 0700, not only the last (os.makedirs' mode)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)
    os.chmod(path, 0o600)  # the umask may have taken bits away, never added; make it exact anyway


def _version(db: sqlite3.Connection, path: Path) -> int:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise JournalError(f"{path}: this journal was written by a newer sf1630 (schema {version}); "
                           f"upgrade the agent (this one reads schema {SCHEMA_VERSION} and older)")
    return version


def _backup(db: sqlite3.Connection, path: Path, version: int) -> None:
    """Keep a copy of the journal as it was before an upgrade changes it (issue #4)."""
    copy = path.with_name(f"{path.name}.schema{version}.bak")
    create_private(copy)  # owner-only from the start, not only after the copy (issue #14)
    target = sqlite3.connect(str(copy))
    try:
        db.backup(target)
    finally:
        target.close()
    os.chmod(copy, 0o600)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
