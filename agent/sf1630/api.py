"""The objects plugins deal in: Source and Sink protocols, records, errors and option helpers.

Sources and sinks are registered objects (STYLE.md): the agent calls their methods, never asks every
plugin "is this yours?". Each states the API version it targets in ``api_version``. Nothing here
imports pluggy, so the core (sender, receiver, journal) can use these names freely. The event
records the core emits are in ``sf1630.events``.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol, runtime_checkable

from sf1630.errors import Sf1630Error
from sf1630.options import (  # noqa: F401  (for plugin authors)
    OptionInfo, Place, build_options, describe_options, option)

# Bumped only when a hook, argument or protocol member is renamed or removed (STYLE.md).
API_VERSION = 1

Routing = Literal["simple", "dynamic"]


class PluginError(Sf1630Error):
    """A plugin could not be loaded, targets another API version, or names an unknown source/sink."""


class ExtractError(Sf1630Error):
    """A source could not produce its extract (no export file, bad header, query failed)."""


class LoadError(Sf1630Error):
    """A sink refused or failed a load; nothing of it was kept. The agent quarantines and retries."""


def redact(message: str, keep: Iterable[str] = ()) -> str:
    """A database error message without the values it quotes (issue #14: no row data in logs).

    Quoted parts ("..." and '...') become "…" unless they are one of ``keep`` (table and
    column names, which help the reader and hold no personal data).
    """
    kept = set(keep)
    return re.sub(r'"([^"]*)"|\'([^\']*)\'',
                  lambda m: m[0] if (m[1] if m[1] is not None else m[2]) in kept else '"…"', message)


@dataclass(frozen=True)
class Municipality:
    """One municipality a vendor serves, from its municipality file."""

    key: str  # short name used on the command line and in config, e.g. "ikast-brande"
    name: str  # "Ikast-Brande Kommune"
    authority_id: str  # <authorityId> in data file names (seed: myndighedsID), e.g. "11111111"
    cvr: str  # 8 digits; dynamic routing uses "urn:oio:cvr-nr:" + cvr


@dataclass(frozen=True)
class Job:
    """One extract to produce: a source's data for a municipality and period, for one recipient."""

    municipality: Municipality
    source: str  # source code as in file names, e.g. "KY"
    recipient: str  # <Recipient> part of the file name, e.g. "LIS"
    period: str  # the period the extract covers, e.g. "M03" (PROTOCOL rule 7)
    created: datetime  # the extract's timestamp; goes into the file name
    options: Any = None  # the source's Options instance from config


@dataclass(frozen=True)
class ExtractResult:
    """What a source wrote."""

    rows: int
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delivery:
    """One delivered file at a LIS: what a sink loads."""

    file_transfer_uuid: str
    file_name: str
    sender: str  # the sender's SFTP user, from the metadata
    recipient: str  # our SFTP user
    size: int
    source: str | None = None  # source code parsed from the file name when it follows the pattern
    municipality: str | None = None  # municipality key of the receiving account
    metadata: Any = None  # the parsed sf1630.documents Metadata


@dataclass(frozen=True)
class SchemaChange:
    """One change a sink made to a table because a source's header changed (issue #14)."""

    table: str
    column: str
    kind: Literal["added", "missing", "widened"]
    detail: str = ""  # e.g. "INTEGER -> TEXT"


@dataclass(frozen=True)
class LoadResult:
    """What a sink loaded: rows added (0 when the FileTransferUUID was loaded before).

    ``repeats`` names earlier deliveries of the same authority, source and period (a resend, issue
    #19); ``replaced`` those of them whose rows the load deleted (a sink's ``on_repeat = "replace"``).
    """

    rows: int
    table: str = ""
    duplicate: bool = False
    changes: tuple[SchemaChange, ...] = ()
    repeats: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()


@dataclass(frozen=True)
class Transfer:
    """A journalled transfer as events see it."""

    id: int
    kind: Literal["send", "receive"]
    key: str  # unique key: the data file name plus account
    file_name: str
    account: str
    state: str
    municipality: str | None = None
    source: str | None = None
    file_transfer_uuid: str | None = None
    size: int | None = None
    rows: int | None = None
    error: str | None = None
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Expectation:
    """An extract a LIS expects on a schedule ([[receive.expect]]) that did not arrive by ``deadline``.

    ``arrived_file``, ``arrived_uuid`` and ``arrived_at`` tell the delivery that came after all
    (set only when the missing extract is cleared). Issue #14.
    """

    municipality: str
    source: str  # as configured, e.g. "ky"
    schedule: str  # cron expression of when it is due
    grace_seconds: float
    deadline: datetime  # the scheduled time plus grace
    arrived_file: str | None = None
    arrived_uuid: str | None = None
    arrived_at: datetime | None = None


@runtime_checkable
class Source(Protocol):
    """Produces extracts for one source system (DUBU, KY, KSD, AULA, KP, or a vendor's own)."""

    name: str  # registration name, lower case, e.g. "ky"
    code: str  # code in file names and Sender, e.g. "KY"
    routing: Routing  # default routing mode
    schedule: str  # default cron schedule, e.g. "0 2 1 * *"
    api_version: int
    Options: type  # dataclass: every field has a default and metadata={"help": ...}

    def period(self, when: datetime) -> str:
        """The period an extract made at ``when`` covers, e.g. "M03" on 2 April."""

    def file_name(self, job: Job) -> str:
        """The data file's name, normally <Sender>_<Recipient>_<authorityId>_<period>_<timestamp>.csv."""

    def write_extract(self, job: Job, out: BinaryIO) -> ExtractResult:
        """Stream the extract (UTF-8 CSV, ';', header) to ``out``; never hold it whole in memory."""

    def delivered(self, job: Job) -> None:
        """Called after a SUCCESS receipt, e.g. to move an export file aside. May do nothing."""


@runtime_checkable
class Sink(Protocol):
    """Loads delivered files into a LIS database or archive."""

    name: str  # registration name, e.g. "sqlite"
    api_version: int
    Options: type

    def load(self, delivery: Delivery, path: Path, options: Any) -> LoadResult:
        """Load ``path`` in one transaction, idempotent by ``delivery.file_transfer_uuid``.

        A failed load must leave nothing behind (raise; the agent quarantines and retries).
        """


@dataclass(frozen=True)
class Check:
    """One finding a plugin gives ``sf1630 doctor`` (``sf1630_doctor``)."""

    level: Literal["ok", "warn", "error"]
    topic: str  # what was checked, e.g. "alerts webhook"
    message: str
    fix: str = ""  # what to do about a warn or error


class Commands:
    """Where a plugin adds its sub-commands (``sf1630_register_commands``).

    A typed door onto the ``sf1630`` command line, so the plugin API names no private argparse type.
    ``add_parser`` keeps the name plugins already call.
    """

    def __init__(self, subparsers: argparse._SubParsersAction) -> None:
        self._subparsers = subparsers
        self.added: list[str] = []

    def add_parser(self, name: str, *, help: str | None = None, description: str | None = None,
                   **options: Any) -> argparse.ArgumentParser:
        """Add the command ``sf1630 NAME``; set ``func`` (arguments in, exit status out) on what comes back.

        ``options`` go to argparse as they are (``aliases``, ``epilog``, ...).
        """
        if name in self._subparsers.choices:
            raise PluginError(f"the command {name!r} exists already; choose another name")
        self.added.append(name)
        return self._subparsers.add_parser(name, help=help, description=description or help, **options)
