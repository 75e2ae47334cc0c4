"""The conformance suite every source and sink runs, built-in or a vendor's (as rclone's fstests).

Two ways to use it:

- subclass ``SourceConformance`` or ``SinkConformance`` in a test module under a ``Test`` name and
  set ``source`` or ``sink`` (and, for a sink, ``count_rows``); pytest runs every check::

      class TestArchiveSink(SinkConformance):
          sink = ArchiveSink()

          def make_options(self, tmp_path):
              return ArchiveSink.Options(folder=tmp_path / "archive")

          def count_rows(self, options):
              return ...  # rows now held by the sink

- or call ``check_source(...)`` / ``check_sink(...)`` from any test; they raise AssertionError.

Sources are checked for: a valid name, code, routing and schedule; documented options; a safe file
name that follows the pattern; a UTF-8 ``;`` CSV with a header of unique names and rows as wide as
it; the row count reported; and the same bytes for the same job. Sinks for: documented options;
a load reporting its rows; a second load of the same FileTransferUUID adding none
(``duplicate=True``); a failed load (a ragged row) leaving nothing, so that a later good load of
that FileTransferUUID loads in full.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from sf1630.api import API_VERSION, Delivery, ExtractResult, Job, Municipality
from sf1630.documents.names import check_name, parse_data_name

MUNICIPALITY = Municipality(key="testby", name="Testby Kommune", authority_id="11111111", cvr="12345678")
CREATED = datetime(2024, 4, 2, 10, 11, 12)
HEADER = ["id", "name", "amount", "note"]
ROWS = [
    ["1", "Åse Ærø", "10.50", "plain"],
    ["2", "Bo; Hansen", "-3", 'says "hi"'],
    ["3", "two\nlines", "", ""],
    ["4", "", "7", "ünïcødé ✓"],
]
_CRON_FIELD = re.compile(r"[0-9*/,\-]+")


def make_job(source: Any, options: Any = None, *, municipality: Municipality = MUNICIPALITY,
             recipient: str = "LIS", created: datetime = CREATED) -> Job:
    """A job for ``source`` covering the period an extract made at ``created`` covers."""
    return Job(municipality, source.code, recipient, source.period(created), created, options)


def extract(source: Any, job: Job) -> tuple[bytes, ExtractResult]:
    """Run a source's extract into memory (tests only: real extracts stream to a file)."""
    out = io.BytesIO()
    result = source.write_extract(job, out)
    return out.getvalue(), result


def write_delivery(folder: Path, rows: list[list[str]] = ROWS, header: list[str] = HEADER, *,
                   file_transfer_uuid: str | None = None, source: str = "CONFORMANCE",
                   authority: str = MUNICIPALITY.authority_id, period: str = "M03", created: datetime = CREATED,
                   name: str | None = None) -> tuple[Delivery, Path]:
    """Write a delivered file into ``folder`` and describe it as a Delivery.

    Its name is ``<source>_LIS_<authority>_<period>_<created>.csv`` unless ``name`` gives another.
    """
    name = name or f"{source}_LIS_{authority}_{period}_{created:%Y%m%d%H%M%S}.csv"
    path = Path(folder) / f"{uuid.uuid4().hex[:8]}-{name}"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=";", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    delivery = Delivery(file_transfer_uuid or str(uuid.uuid4()), name, f"{source}_SFTPSIMPEL",
                        "TESTBY_LIS01_SIMPEL", path.stat().st_size, source=source, municipality=MUNICIPALITY.key)
    return delivery, path


def check_options_documented(options_cls: type) -> None:
    """Every option has a default and help text."""
    assert dataclasses.is_dataclass(options_cls), "Options must be a dataclass"
    for f in dataclasses.fields(options_cls):
        assert f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING, \
            f"option {f.name!r} has no default"
        assert f.metadata.get("help"), f"option {f.name!r} has no help text (use sf1630.option(default, help))"
    options_cls()


def check_source(source: Any, options: Any = None) -> None:
    """Every source check; AssertionError says which failed."""
    check_source_shape(source)
    check_options_documented(source.Options)
    check_source_output(source, make_job(source, options))


def check_source_shape(source: Any) -> None:
    """Name, code, routing, schedule, period and API version."""
    assert source.api_version == API_VERSION
    assert re.fullmatch(r"[a-z][a-z0-9_-]*", source.name), f"bad source name {source.name!r}"
    assert re.fullmatch(r"[A-Z0-9]+", source.code), f"code {source.code!r}: upper-case letters and digits, no '_'"
    assert source.routing in ("simple", "dynamic")
    fields = source.schedule.split()
    assert len(fields) == 5 and all(_CRON_FIELD.fullmatch(f) for f in fields), f"schedule {source.schedule!r}"
    for month in range(1, 13):
        period = source.period(datetime(2024, month, 2, 3, 4, 5))
        assert period and "_" not in period and check_name(period), f"bad period {period!r}"


def check_source_output(source: Any, job: Job) -> None:
    """File name, header, rows, and determinism for one job."""
    name = check_name(source.file_name(job))
    parsed = parse_data_name(name)
    assert parsed is not None, f"{name!r} does not follow <Sender>_<Recipient>_<authorityId>_<period>_<time>.csv"
    assert (parsed.sender, parsed.period) == (source.code, job.period)
    data, result = extract(source, job)
    text = data.decode("utf-8")
    assert not text.startswith("\ufeff"), "no byte order mark"
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    header, rows = records[0], [r for r in records[1:] if r]
    assert header and all(h.strip() for h in header), "header has empty names"
    assert len({h.lower() for h in header}) == len(header), "header names repeat"
    assert all(len(r) == len(header) for r in rows), "a row is not as wide as the header"
    assert result.rows == len(rows), f"reported {result.rows} rows, wrote {len(rows)}"
    assert extract(source, job)[0] == data, "two extracts of the same job differ"


def check_sink(sink: Any, options: Any, folder: Path, count_rows: Callable[[Any], int]) -> None:
    """Every sink check against one (empty) target; AssertionError says which failed."""
    assert sink.api_version == API_VERSION
    check_options_documented(sink.Options)
    check_failed_load_leaves_nothing(sink, options, folder, count_rows)
    check_load_and_reload(sink, options, folder, count_rows)


def check_load_and_reload(sink: Any, options: Any, folder: Path, count_rows: Callable[[Any], int]) -> None:
    """A load reports its rows; a second load of the same FileTransferUUID adds none."""
    before = count_rows(options)
    delivery, path = write_delivery(folder)
    first = sink.load(delivery, path, options)
    assert (first.rows, first.duplicate) == (len(ROWS), False), f"first load: {first}"
    assert count_rows(options) == before + len(ROWS)
    again = sink.load(delivery, path, options)
    assert (again.rows, again.duplicate) == (0, True), f"second load of the same FileTransferUUID: {again}"
    assert count_rows(options) == before + len(ROWS), "a second load of the same FileTransferUUID added rows"


def check_failed_load_leaves_nothing(sink: Any, options: Any, folder: Path,
                                     count_rows: Callable[[Any], int]) -> None:
    """A ragged row fails the load with nothing kept; the same FileTransferUUID then loads in full."""
    before = count_rows(options)
    ragged = [ROWS[0], ROWS[1][:2], ROWS[2]]
    delivery, path = write_delivery(folder, ragged)
    with pytest.raises(Exception):
        sink.load(delivery, path, options)
    assert count_rows(options) == before, "a failed load left rows behind"
    fixed, fixed_path = write_delivery(folder, file_transfer_uuid=delivery.file_transfer_uuid)
    result = sink.load(fixed, fixed_path, options)
    assert (result.rows, result.duplicate) == (len(ROWS), False), "a failed load was recorded as done"


class SourceConformance:
    """Subclass under a ``Test`` name and set ``source``; override ``make_options`` to configure it."""

    source: Any = None

    def make_options(self, tmp_path: Path) -> Any:
        return self.source.Options()

    def test_conformance_source_shape(self) -> None:
        check_source_shape(self.source)

    def test_conformance_source_options_documented(self) -> None:
        check_options_documented(self.source.Options)

    def test_conformance_source_output(self, tmp_path: Path) -> None:
        check_source_output(self.source, make_job(self.source, self.make_options(tmp_path)))


class SinkConformance:
    """Subclass under a ``Test`` name, set ``sink`` and implement ``count_rows``.

    Override the ``sink_options`` fixture (e.g. with ``yield`` to drop a database afterwards) or
    ``make_options`` to point the sink at an empty target.
    """

    sink: Any = None

    def make_options(self, tmp_path: Path) -> Any:
        return self.sink.Options()

    def count_rows(self, options: Any) -> int:
        """How many data rows the sink holds now, over all its tables or files."""
        raise NotImplementedError("implement count_rows(options) for the conformance suite")

    @pytest.fixture
    def sink_options(self, tmp_path: Path) -> Any:
        return self.make_options(tmp_path)

    def test_conformance_sink_shape(self) -> None:
        assert self.sink.api_version == API_VERSION
        check_options_documented(self.sink.Options)

    def test_conformance_load_and_reload(self, sink_options: Any, tmp_path: Path) -> None:
        check_load_and_reload(self.sink, sink_options, tmp_path, self.count_rows)

    def test_conformance_failed_load_leaves_nothing(self, sink_options: Any, tmp_path: Path) -> None:
        check_failed_load_leaves_nothing(self.sink, sink_options, tmp_path, self.count_rows)

    def test_conformance_header_only(self, sink_options: Any, tmp_path: Path) -> None:
        before = self.count_rows(sink_options)
        delivery, path = write_delivery(tmp_path, [])
        assert self.sink.load(delivery, path, sink_options).rows == 0
        assert self.count_rows(sink_options) == before
