"""The journal: one row per transfer with its state history, each state committed before its action.

The sender and receiver claim a transfer by a unique key, then move it from state to state; a
state is durable on disk before the action it allows (issue #13), so a restarted agent finishes
what it began and never does anything twice. Nothing outside this package may assume SQLite: a
PostgreSQL journal that several hosts share comes later, as another ``Journal`` class.

``base.py`` is the interface and the states; ``sqlite.py`` the SQLite backend, with its schema
in ``schema.py``; ``group.py`` lets concurrent writes share one commit (issue #9).

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
           "Journal", "JournalError", "JournalTransfer", "MissingRecord", "ProblemRecord", "SqliteJournal",
           "open_journal"]


def open_journal(path: Path | str) -> Journal:
    """Open (creating and migrating as needed) the journal at ``path``."""
    return SqliteJournal(Path(path))
