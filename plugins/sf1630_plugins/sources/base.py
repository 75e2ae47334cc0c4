"""What every built-in source shares: options, descriptor, the Source object and period rules.

A built-in source module keeps one order (STYLE.md): its ``Options`` (adapter and adapter
settings), its descriptor (code, routing, schedule, documented columns), its writer (how the
``synthetic`` adapter makes plausible rows: ``fake_rows``, the lines of one extract) and its
``hookimpl``, which registers a ``TabularSource`` built from the three.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO, Literal

from sf1630.api import API_VERSION, ExtractResult, Job, Routing, option
from sf1630.documents.names import data_file_name
from sf1630_plugins.adapters import directory, sql, synthetic

ADAPTERS: dict[str, ModuleType] = {"synthetic": synthetic, "sql": sql, "directory": directory}

# fake_rows(rng, job, count): ``count`` CSV lines, each ending in "\n", none with a field that needs quoting.
FakeRows = Callable[[synthetic.Draws, Job, int], Iterable[str]]  # Draws is a random.Random


@dataclass
class ExtractOptions:
    """Options every built-in source takes in ``[send.options]``; the adapter picks the rest."""

    adapter: Literal["synthetic", "sql", "directory"] = option(
        "synthetic", "where rows come from: synthetic (fake rows), sql (a query) or directory (an export file)")
    strict_header: bool = option(
        True, "refuse an extract whose header is not exactly the documented columns (sql, directory)")
    rows: int = option(100, "synthetic: how many rows to write")
    seed: str = option("", "synthetic: text mixed into the seed; change it to get other rows")
    url: str = option("", "sql: database URL, sqlite:///file.db or postgresql://user@host/db")
    url_env: str = option("", "sql: environment variable holding the URL (keeps passwords out of config)")
    query: str = option("", "sql: SELECT with :municipality, :authority_id, :cvr, :period, :source")
    folder: Path | None = option(None, "directory: the export folder; may use {municipality}, {authority_id}, {source}")
    pattern: str = option("*.csv", "directory: glob of export files; the newest settled one is sent")
    settle_seconds: float = option(60.0, "directory: skip files changed this recently (the export may still run)")
    sent_folder: str = option("sent", "directory: subfolder of the export folder that sent files move to")

    def __post_init__(self) -> None:
        if self.rows < 0:
            raise ValueError(f"rows must be 0 or more, not {self.rows}")
        if "/" in self.sent_folder or self.sent_folder in ("", ".", ".."):
            raise ValueError(f"sent_folder must be a plain folder name, not {self.sent_folder!r}")

    def resolve_against(self, base: Path) -> None:
        """Make a relative ``sqlite:///`` URL name a file in ``base`` (the municipality file's folder)."""
        self.config_folder = base  # for a URL that comes from url_env at extract time
        self.url = sql.relative_url(self.url, base)

    def unresolved(self) -> list[str]:
        """Settings that resolve to nothing here (an unset url_env variable); empty when fine."""
        return sql.unresolved(self) if self.adapter == "sql" else []


@dataclass(frozen=True)
class Column:
    """One documented column: its name in the header, its type and what it holds."""

    name: str
    type: Literal["text", "integer", "decimal", "date"]
    help: str


@dataclass(frozen=True)
class Descriptor:
    """What a source says about itself."""

    name: str  # registration name, e.g. "ky"
    code: str  # <Sender> in file names, e.g. "KY"
    title: str  # one line: what the extract holds
    routing: Routing  # default routing mode (PROTOCOL.md "Parties": only AULA and KP use routes)
    schedule: str  # default cron schedule
    columns: tuple[Column, ...]
    period: Callable[[datetime], str]  # the period an extract made at a time covers


def previous_month(when: datetime) -> str:
    """``M03`` for any time in April: monthly extracts cover the month before (PROTOCOL.md rule 7)."""
    return f"M{(when.month - 2) % 12 + 1:02d}"


class TabularSource:
    """A Source whose extract is one CSV table with documented columns, fed by an adapter."""

    api_version = API_VERSION

    def __init__(self, descriptor: Descriptor, options: type, fake_rows: FakeRows) -> None:
        self.descriptor = descriptor
        self.Options = options
        self.fake_rows = fake_rows
        self.name, self.code, self.title = descriptor.name, descriptor.code, descriptor.title
        self.routing, self.schedule = descriptor.routing, descriptor.schedule
        self.header = tuple(c.name for c in descriptor.columns)

    def __repr__(self) -> str:
        return f"<source {self.name} ({self.code})>"

    def period(self, when: datetime) -> str:
        """The period an extract made at ``when`` covers."""
        return self.descriptor.period(when)

    def file_name(self, job: Job) -> str:
        """``<CODE>_<Recipient>_<authorityId>_<period>_<YYYYMMDDhhmmss>.csv``."""
        return data_file_name(self.code, job.recipient, job.municipality.authority_id, job.period, job.created)

    def write_extract(self, job: Job, out: BinaryIO) -> ExtractResult:
        """Stream the extract from the adapter the options name."""
        options = self._options(job)
        return ADAPTERS[options.adapter].extract(job, self, options, out)

    def delivered(self, job: Job) -> None:
        """Let the adapter tidy up after a SUCCESS receipt (the directory adapter moves the file)."""
        options = self._options(job)
        ADAPTERS[options.adapter].delivered(job, self, options)

    def check(self, job: Job) -> str:
        """What ``sf1630 doctor`` verified of the adapter (the database answers, the folder is readable);
        ExtractError when it cannot work. Reads only."""
        options = self._options(job)
        return ADAPTERS[options.adapter].check(job, self, options)

    def _options(self, job: Job) -> Any:
        return job.options if job.options is not None else self.Options()
