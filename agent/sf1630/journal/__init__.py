"""The journal: one row per transfer with its state history, each state committed before its action.

The sender and receiver claim a transfer by a unique key, then move it from state to state; a
state is durable on disk before the action it allows (issue #13), so a restarted agent finishes
what it began and never does anything twice. Nothing outside this package may assume SQLite.

``base.py`` is the interface and the states; ``sqlite.py`` the SQLite backend, with its schema
in ``schema.py``; ``postgres.py`` the PostgreSQL backend several hosts share (issue #21), with
its schema in ``pgschema.py``; ``group.py`` lets concurrent writes share one commit (issue #9).

Send states:    planned -> extracted -> data_uploaded -> trigger_uploaded -> delivered | failed (then cleaned)
Receive states: seen -> downloaded -> remote_deleted -> loaded | quarantined (a quarantined load is retried)
"""

from __future__ import annotations

from pathlib import Path

from sf1630.journal.base import (FIELDS, INITIAL, RECEIVE_STATES, SEND_STATES, STATES, Journal, JournalError,
                                 JournalTransfer, MissingRecord, ProblemRecord)
from sf1630.journal.schema import MIGRATIONS, SCHEMA_VERSION
from sf1630.journal.sqlite import SqliteJournal

__all__ = ["FIELDS", "INITIAL", "MIGRATIONS", "RECEIVE_STATES", "SCHEMA_VERSION", "SEND_STATES", "STATES",
           "Journal", "JournalError", "JournalTransfer", "MissingRecord", "ProblemRecord", "SqliteJournal", "describe", "exists",
           "is_url", "open_journal"]

URL_SCHEMES = ("postgresql://", "postgres://")


def is_url(location: Path | str) -> bool:
    """Whether ``location`` names a PostgreSQL journal (a URL) rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(URL_SCHEMES)


def describe(location: Path | str) -> str:
    """The location for messages and reports: a file path, or the URL without its password."""
    if is_url(location):
        # late: psycopg loads only where a PostgreSQL journal is used (start-up time of every command)
        from sf1630.journal.postgres import describe as without_password

        return without_password(str(location))
    return str(location)


def exists(location: Path | str) -> bool:
    """Whether there is a journal to read (a URL always counts: its server says if not)."""
    return is_url(location) or Path(location).exists()


def open_journal(location: Path | str) -> Journal:
    """Open (creating and migrating as needed) the journal at ``location``: a path or a postgresql:// URL."""
    if is_url(location):
        from sf1630.journal.postgres import PostgresJournal  # psycopg only when a site uses it

        return PostgresJournal(str(location))
    return SqliteJournal(Path(location))
