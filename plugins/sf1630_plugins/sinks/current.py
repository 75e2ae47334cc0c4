"""Whose data, which period, and which delivery is current (issue #19): what the SQL sinks share.

Every data table gets ``authority``, ``period`` and ``source`` from the data file's name
(``KY_LIS_11111111_M03_20260402101010.csv`` gives ``11111111``, ``2026-M03``, ``KY``); a name
outside the pattern leaves them NULL, never refuses the load (PROTOCOL.md rule 7).

The ``deliveries`` table has one row per FileTransferUUID loaded. Deliveries with the same
authority, source and period repeat one another (a ``send --resend``, or a second extract of the
month): the latest, by the file name's timestamp and then by load time, is the current one. The view
``<table>_current`` holds only the current delivery's rows. With ``on_repeat = "replace"`` the rows
of the older deliveries are deleted in the same transaction that loads the new one, and their
``deliveries`` row names the delivery that replaced them (``replaced_by``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from sf1630.api import Delivery
from sf1630.documents.names import full_period, parse_data_name

log = logging.getLogger("sf1630.sinks")

KEY_COLUMNS = ("authority", "period", "source")
# The deliveries table: (column, kind); each sink maps the kinds to its database's types.
RECORD = (("file_transfer_uuid", "key"), ("file_name", "text"), ("sender", "text"), ("recipient", "text"),
          ("source", "text"), ("authority", "text"), ("period", "text"), ("file_type", "text"),
          ("created", "text"), ("table_name", "text"), ("rows", "int"), ("size", "int"), ("loaded_at", "text"),
          ("replaces", "text"), ("replaced_by", "text"))


@dataclass(frozen=True)
class Keys:
    """What a delivery's file name says of its data; all None when the name is outside the pattern."""

    authority: str | None = None
    period: str | None = None
    source: str | None = None
    created: str | None = None  # the file name's timestamp, ISO 8601: orders repeats

    @property
    def known(self) -> bool:
        return None not in (self.authority, self.period, self.source)


@dataclass(frozen=True)
class Repeat:
    """Earlier deliveries of the same authority, source and period, and what a load does with them."""

    earlier: tuple[str, ...] = ()  # their FileTransferUUIDs, oldest first
    replaces: str | None = None  # the one that was current until now
    delete: tuple[tuple[str, str], ...] = ()  # (FileTransferUUID, table) whose rows go (on_repeat = replace)


def keys_of(delivery: Delivery) -> Keys:
    """The authority, period (with its year) and source of a delivery, from its file name."""
    parts = parse_data_name(delivery.file_name)
    if parts is None:
        return Keys(source=delivery.source)
    return Keys(parts.authority_id, full_period(parts.period, parts.timestamp),
                delivery.source or parts.sender, parts.timestamp.isoformat())


def file_type(delivery: Delivery) -> str | None:
    """The metadata's file type (``FilType=LIS;SF=1630``), None when it carries none."""
    pairs = getattr(delivery.metadata, "file_type", None) or ()
    return ";".join(f"{k}={v}" for k, v in pairs) or None


def record(delivery: Delivery, keys: Keys, table: str, rows: int, repeat: Repeat) -> dict[str, object]:
    """The ``deliveries`` row of a load, by column name."""
    return {"file_transfer_uuid": delivery.file_transfer_uuid, "file_name": delivery.file_name,
            "sender": delivery.sender, "recipient": delivery.recipient, "source": keys.source,
            "authority": keys.authority, "period": keys.period, "file_type": file_type(delivery),
            "created": keys.created, "table_name": table, "rows": rows, "size": delivery.size,
            "loaded_at": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            "replaces": repeat.replaces, "replaced_by": None}


def repeat_query(deliveries: str, p: str) -> str:
    """Earlier deliveries of the same key still holding rows, oldest first (parameters: the key, the UUID)."""
    return (f"SELECT file_transfer_uuid, table_name, created FROM {deliveries} WHERE authority = {p} "
            f"AND source = {p} AND period = {p} AND file_transfer_uuid <> {p} AND replaced_by IS NULL "
            "ORDER BY created, loaded_at")


def find_repeat(run: Callable[[str, tuple], list], deliveries: str, p: str, delivery: Delivery, keys: Keys,
                on_repeat: str) -> Repeat:
    """The earlier deliveries a load repeats; logged at WARNING, as a resend doubles a month otherwise."""
    if not keys.known:
        return Repeat()
    found = run(repeat_query(deliveries, p), (keys.authority, keys.source, keys.period, delivery.file_transfer_uuid))
    if not found:
        return Repeat()
    older = [(uuid, table) for uuid, table, created in found if (created or "") <= (keys.created or "")]
    repeat = Repeat(tuple(u for u, _, _ in found), found[-1][0], tuple(older) if on_repeat == "replace" else ())
    log.warning("%s repeats %s %s %s, delivered before as %s; on_repeat = %s: %s", delivery.file_name,
                keys.source, keys.authority, keys.period, ", ".join(repeat.earlier), on_repeat,
                "their rows are deleted" if repeat.delete else "all are kept, the _current view shows the latest",
                extra={"file": delivery.file_name, "uuid": delivery.file_transfer_uuid})
    return repeat


def current_view(table: str, deliveries: str, q: Callable[[str], str], table_name: str) -> str:
    """The SELECT of ``<table>_current``: rows of the latest delivery per authority, source and period.

    A delivery whose name gave no key is its own group, so its rows always show.
    """
    group = ("authority, source, period, CASE WHEN authority IS NULL OR period IS NULL "
             "THEN file_transfer_uuid END")
    latest = (f"SELECT file_transfer_uuid FROM (SELECT file_transfer_uuid, row_number() OVER (PARTITION BY "
              f"{group} ORDER BY created DESC, loaded_at DESC) AS n FROM {deliveries} WHERE table_name = "
              f"'{table_name.replace(chr(39), chr(39) * 2)}' AND replaced_by IS NULL) latest WHERE n = 1")
    return f"SELECT * FROM {table} WHERE {q('_file_transfer_uuid')} IN ({latest})"
