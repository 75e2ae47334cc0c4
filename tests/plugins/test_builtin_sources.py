"""The built-in sources: the conformance suite, their descriptors and the synthetic adapter."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date, datetime
from pathlib import Path

import pytest

from sf1630.api import ExtractError, Municipality
from sf1630.testing.conformance import SourceConformance, extract, make_job
from sf1630_plugins.adapters import write_lines
from sf1630_plugins.adapters.synthetic import is_fake_cpr
from sf1630_plugins.sources import aula, dubu, ksd, kp, ky

MODULES = {"dubu": dubu, "ky": ky, "ksd": ksd, "aula": aula, "kp": kp}
DOCS = Path(__file__).parents[2] / "docs" / "plugins.md"


class TestDubuConformance(SourceConformance):
    source = dubu.SOURCE


class TestKyConformance(SourceConformance):
    source = ky.SOURCE


class TestKsdConformance(SourceConformance):
    source = ksd.SOURCE


class TestAulaConformance(SourceConformance):
    source = aula.SOURCE


class TestKpConformance(SourceConformance):
    source = kp.SOURCE


def read(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=";"))


def test_every_builtin_source_is_registered_with_its_code_and_routing(sf1630_host):
    sources = sf1630_host.sources()
    assert {n: (s.code, s.routing) for n, s in sources.items()} == {
        "dubu": ("DUBU", "simple"), "ky": ("KY", "simple"), "ksd": ("KSD", "simple"),
        "aula": ("AULA", "dynamic"), "kp": ("KP", "dynamic")}


@pytest.mark.parametrize("name", MODULES)
def test_monthly_sources_name_the_previous_month(name):
    source = MODULES[name].SOURCE
    assert source.period(datetime(2018, 4, 2, 13, 48, 58)) == "M03"  # PROTOCOL rule 7's example
    assert source.period(datetime(2024, 1, 5)) == "M12"


def test_ky_file_name_follows_the_seed_pattern():
    job = make_job(ky.SOURCE, created=datetime(2018, 4, 2, 13, 48, 58))
    assert ky.SOURCE.file_name(job) == "KY_LIS_11111111_M03_20180402134858.csv"


@pytest.mark.parametrize("name", MODULES)
def test_header_is_the_documented_column_set(name):
    module = MODULES[name]
    data, result = extract(module.SOURCE, make_job(module.SOURCE))
    header = read(data)[0]
    assert tuple(header) == module.SOURCE.header == result.columns
    assert "DESCRIPTOR" in module.__doc__  # declared once there (issue #19), not retyped in the docstring


@pytest.mark.parametrize("name", MODULES)
def test_synthetic_person_ids_look_like_cpr_but_never_are(name):
    source = MODULES[name].SOURCE
    rows = read(extract(source, make_job(source, source.Options(rows=200)))[0])
    column = rows[0].index("child_id" if name == "aula" else "cpr")
    ids = [r[column] for r in rows[1:]]
    assert len(ids) == 200 and all(is_fake_cpr(i) for i in ids)
    for value in ids:  # the DDMMYY part is never a date, so no real person has the number
        with pytest.raises(ValueError):
            date(2000 + int(value[4:6]), int(value[2:4]), int(value[:2]))


def test_synthetic_rows_depend_on_municipality_period_and_seed_only():
    source = ky.SOURCE
    base = extract(source, make_job(source, source.Options(rows=5)))[0]
    later_same_period = make_job(source, source.Options(rows=5), created=datetime(2024, 4, 20, 23, 0))
    other_town = make_job(source, source.Options(rows=5),
                          municipality=Municipality("andeby", "Andeby", "22222222", "87654321"))
    other_seed = make_job(source, source.Options(rows=5, seed="x"))
    assert extract(source, later_same_period)[0] == base
    assert extract(source, other_town)[0] != base
    assert extract(source, other_seed)[0] != base
    assert len(read(base)) == 6


# SHA-256 (first 16 hex digits) of a 600-row extract of each source for make_job's job: the same
# seed gives the same bytes, so a faster writer must not change them (issue #23).
PINNED = {"dubu": "106164a28a564078", "ky": "254f41fc83395e2c", "ksd": "3f777ba9e8967707",
          "aula": "ce531a80af0ddae5", "kp": "ebf4409d687dfc6d"}


@pytest.mark.parametrize("name", MODULES)
def test_synthetic_bytes_stay_the_same_for_the_same_seed(name):
    source = MODULES[name].SOURCE
    data = extract(source, make_job(source, source.Options(rows=600)))[0]  # more than one block of lines
    assert hashlib.sha256(data).hexdigest()[:16] == PINNED[name]


def test_ready_made_lines_that_would_need_quoting_are_refused():
    header = ("a", "b")
    with pytest.raises(ExtractError, match="rows 1-2"):
        write_lines(io.BytesIO(), header, ["x;y\n", 'x;"y\n'])
    with pytest.raises(ExtractError):
        write_lines(io.BytesIO(), header, ["x;y;z\n"])
    out = io.BytesIO()
    assert write_lines(out, header, ["x;y\n", ";\n"]) == 2 and out.getvalue() == b"a;b\nx;y\n;\n"


def test_synthetic_rows_are_plausible_for_the_covered_month():
    source = ky.SOURCE
    rows = read(extract(source, make_job(source, source.Options(rows=50)))[0])
    header, data = rows[0], rows[1:]
    paid = [date.fromisoformat(r[header.index("payment_date")]) for r in data]
    assert all(date(2024, 3, 1) <= d <= date(2024, 3, 31) for d in paid)
    for r in data:
        gross, tax, net = (float(r[header.index(c)]) for c in ("gross_amount", "tax_amount", "net_amount"))
        assert abs(gross - tax - net) < 0.005 and gross > 0


def test_zero_rows_gives_a_header_only_extract():
    data, result = extract(kp.SOURCE, make_job(kp.SOURCE, kp.SOURCE.Options(rows=0)))
    assert result.rows == 0 and read(data) == [list(kp.SOURCE.header)]


def test_large_synthetic_extract_streams_to_a_file(tmp_path):
    source = aula.SOURCE
    job = make_job(source, source.Options(rows=20000))
    path = tmp_path / source.file_name(job)
    with open(path, "wb") as out:
        result = source.write_extract(job, out)
    assert result.rows == 20000
    with open(path, encoding="utf-8", newline="") as f:
        assert sum(1 for _ in csv.reader(f, delimiter=";")) == 20001


def test_the_documented_columns_are_the_declared_ones():
    # Each source declares its columns once (issue #19); the guide's list must not drift from it.
    import re

    from sf1630_plugins.sources.declared import DECLARED

    guide = DOCS.read_text(encoding="utf-8")
    for code, columns in DECLARED.items():
        item = re.search(rf"^- \*\*{code}\*\*: (.*?)(?=^- \*\*|^$)", guide, re.M | re.S)
        assert item, f"docs/plugins.md lists no columns for {code}"
        assert re.findall(r"`([a-z_]+)`", item[1]) == [c.name for c in columns], code


@pytest.mark.parametrize("odd", ["kontanthjælp; særlig", 'the "new" rate', "two\nlines", 12.5, None, ""])
def test_extract_writer_quotes_as_the_csv_module_does_whatever_a_block_holds(odd):
    # Plain blocks are written by joining; a block with anything to quote or format must come out
    # exactly as csv.writer writes it, on both sides of a block boundary.
    from sf1630_plugins.adapters import BLOCK_ROWS, write_csv

    rows = [[f"P{i}", "kontanthjælp", "2024-03-01"] for i in range(BLOCK_ROWS + 3)]
    rows[BLOCK_ROWS + 1][1] = odd
    out = io.BytesIO()
    assert write_csv(out, ["payment_id", "benefit_type", "period_from"], rows) == len(rows)
    expected = io.StringIO()
    writer = csv.writer(expected, delimiter=";", lineterminator="\n")
    writer.writerows([["payment_id", "benefit_type", "period_from"], *rows])
    assert out.getvalue() == expected.getvalue().encode("utf-8")
    assert read(out.getvalue())[BLOCK_ROWS + 2][1] == ("" if odd is None else str(odd))
