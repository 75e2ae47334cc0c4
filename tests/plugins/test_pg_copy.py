"""The postgres sink's straight COPY: in the text format or as CSV, as the file's bytes allow; with the
file read in small chunks, what it finds on the way ('""', lone carriage returns, fields over two
lines); and the tables a load finds made already (by an older version, or by the load before)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin_support import PG_URL, pg_rows
from sf1630.api import LoadError
from sf1630.testing.conformance import write_delivery
from sf1630_plugins.sinks import pgcopy, postgres

HEADER = ["institution_number", "institution_type", "institution_name", "child_id", "group_name",
          "days_present", "days_sick", "days_absent_other", "parent_logins", "messages_sent"]


def row(child: str, group: str = "3.B", sick: str = "1") -> str:
    return ";".join(["101", "school", "Skolen", child, group, "18", sick, "0", "4", "2"])


def aula(tmp_path: Path, lines: list[str], newline: str = "\n"):
    delivery, path = write_delivery(tmp_path, [], HEADER, source="AULA")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(newline.join([";".join(HEADER), *lines]) + newline)
    return type(delivery)(**{**delivery.__dict__, "size": path.stat().st_size}), path


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(pgcopy, "CHUNK", 64)  # the things looked for turn up after the COPY has started


def load(delivery, path: Path, schema: str) -> int:
    return postgres.SINK.load(delivery, path, postgres.Options(dsn=PG_URL, db_schema=schema)).rows


def test_quoted_empty_fields_past_the_first_chunk_load_as_null(tmp_path, pg_schema, small_chunks):
    lines = [row(f"c{i}") for i in range(20)]
    lines[15] = row("c15", group='""', sick='""')  # line 17
    delivery, path = aula(tmp_path, lines)
    assert load(delivery, path, pg_schema) == 20
    got = pg_rows(pg_schema, "SELECT _line, group_name, days_sick FROM aula WHERE child_id IN ('c14', 'c15')"
                             " ORDER BY _line")
    assert got == [(16, "3.B", 1), (17, None, None)]
    assert pg_rows(pg_schema, "SELECT count(*), min(_line), max(_line) FROM aula") == [(20, 2, 21)]


def test_quoted_empty_fields_in_the_first_chunk_load_as_null(tmp_path, pg_schema):
    delivery, path = aula(tmp_path, [row("c1", group='""'), row("c2", group='"3.C"')])
    assert load(delivery, path, pg_schema) == 2
    assert pg_rows(pg_schema, "SELECT _line, group_name FROM aula ORDER BY _line") == [(2, None), (3, "3.C")]


def test_a_doubled_quote_inside_a_value_past_the_first_chunk_stays(tmp_path, pg_schema, small_chunks):
    lines = [row(f"c{i}") for i in range(20)]
    lines[12] = row("c12", group='"the ""big"" one"')
    delivery, path = aula(tmp_path, lines)
    assert load(delivery, path, pg_schema) == 20
    assert pg_rows(pg_schema, "SELECT _line, group_name FROM aula WHERE child_id = 'c12'") == [(14, 'the "big" one')]


def test_a_lone_carriage_return_past_the_first_chunk_loads_through_staging(tmp_path, pg_schema, small_chunks):
    lines = [row(f"c{i}") for i in range(20)]
    lines[10] = row("c10", group='"3.\rB"')
    delivery, path = aula(tmp_path, lines)
    assert load(delivery, path, pg_schema) == 20
    # Numbered as Python's csv module counts lines: the '\r' ends one.
    assert pg_rows(pg_schema, "SELECT _line, group_name FROM aula WHERE child_id IN ('c10', 'c11') ORDER BY _line") \
        == [(13, "3.\rB"), (14, "3.B")]


def test_crlf_lines_split_between_chunks_keep_their_numbers(tmp_path, pg_schema, small_chunks):
    delivery, path = aula(tmp_path, [row(f"c{i}") for i in range(30)], newline="\r\n")
    assert load(delivery, path, pg_schema) == 30
    assert pg_rows(pg_schema, "SELECT count(*), min(_line), max(_line), count(DISTINCT _line) FROM aula") \
        == [(30, 2, 31, 30)]
    assert pg_rows(pg_schema, "SELECT _line FROM aula WHERE child_id = 'c7'") == [(9,)]


def test_a_field_over_two_lines_past_the_first_chunk_numbers_rows_by_their_lines(tmp_path, pg_schema, small_chunks):
    lines = [row(f"c{i}") for i in range(20)]
    lines[8] = row("c8", group='"3.\nB"')  # lines 10-11
    delivery, path = aula(tmp_path, lines)
    assert load(delivery, path, pg_schema) == 20
    assert pg_rows(pg_schema, "SELECT child_id, _line FROM aula WHERE child_id IN ('c7', 'c8', 'c9') ORDER BY _line") \
        == [("c7", 9), ("c8", 11), ("c9", 12)]


def test_a_misfit_past_a_quoted_empty_field_names_file_line_and_column(tmp_path, pg_schema, small_chunks):
    lines = [row(f"c{i}") for i in range(20)]
    lines[3] = row("c3", group='""')
    lines[17] = row("c17", sick="many")  # line 19
    delivery, path = aula(tmp_path, lines)
    with pytest.raises(LoadError, match=rf"{path.name}:19: column 'days_sick'.*nothing was loaded"):
        load(delivery, path, pg_schema)
    assert pg_rows(pg_schema, "SELECT to_regclass('aula'), to_regclass('deliveries')") == [(None, None)]


def test_an_older_deliveries_table_gets_its_missing_columns_and_index(tmp_path, pg_schema):
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{pg_schema}"')
        conn.execute(f'CREATE TABLE "{pg_schema}".deliveries (file_transfer_uuid text PRIMARY KEY, file_name text, '
                     "table_name text, rows bigint)")
    delivery, path = aula(tmp_path, [row("c1"), row("c2")])
    assert load(delivery, path, pg_schema) == 2
    columns = {c for (c,) in pg_rows(pg_schema, "SELECT column_name FROM information_schema.columns "
                                                "WHERE table_schema = %s AND table_name = 'deliveries'", (pg_schema,))}
    assert {"authority", "period", "source", "replaces", "replaced_by", "loaded_at"} <= columns
    assert pg_rows(pg_schema, "SELECT to_regclass('deliveries_period') IS NOT NULL") == [(True,)]
    assert pg_rows(pg_schema, "SELECT rows, table_name, source FROM deliveries") == [(2, "aula", "AULA")]


def test_a_second_load_into_made_tables_shows_in_the_current_view(tmp_path, pg_schema):
    first, path = aula(tmp_path, [row("c1"), row("c2")])
    assert load(first, path, pg_schema) == 2
    second, path = aula(tmp_path, [row("c3", sick="")])
    assert load(second, path, pg_schema) == 1
    assert load(second, path, pg_schema) == 0  # the same FileTransferUUID again adds nothing
    assert pg_rows(pg_schema, "SELECT child_id, days_sick, _line FROM aula_current") == [("c3", None, 2)]
    assert pg_rows(pg_schema, "SELECT count(*) FROM aula") == [(3,)]
    assert pg_rows(pg_schema, "SELECT column_default FROM information_schema.columns WHERE table_schema = %s "
                              "AND table_name = 'aula' AND column_default IS NOT NULL", (pg_schema,)) == []


def test_doctor_check_leaves_nothing_behind(pg_schema):
    said = postgres.SINK.check(postgres.Options(dsn=PG_URL, db_schema=pg_schema))
    assert pg_schema in said and "rolled back" in said
    assert pg_rows(pg_schema, "SELECT to_regnamespace(%s)", (f'"{pg_schema}"',)) == [(None,)]


@pytest.mark.parametrize("value", ["3\\B", "\\N", "a\\.b", "end\\"])
def test_a_backslash_loads_as_itself(tmp_path, pg_schema, small_chunks, value):
    lines = [row(f"c{i}") for i in range(20)]
    lines[16] = row("c16", group=value)  # in the text format '\\' would start an escape: read as CSV instead
    delivery, path = aula(tmp_path, lines)
    assert load(delivery, path, pg_schema) == 20
    assert pg_rows(pg_schema, "SELECT _line, group_name FROM aula WHERE child_id = 'c16'") == [(18, value)]


def test_without_quotes_or_backslashes_values_empty_fields_and_misfits_read_as_csv_would(tmp_path, pg_schema):
    lines = [row("c1", group="tab\there"), row("c2", group="", sick=""), row("c3", group=" spaced ")]
    delivery, path = aula(tmp_path, lines)
    assert load(delivery, path, pg_schema) == 3
    assert pg_rows(pg_schema, "SELECT _line, group_name, days_sick FROM aula ORDER BY _line") == [
        (2, "tab\there", 1), (3, None, None), (4, " spaced ", 1)]
    delivery, path = aula(tmp_path, [row("c4"), row("c5", sick="2.5")])
    with pytest.raises(LoadError, match=rf"{path.name}:3: column 'days_sick'.*nothing was loaded"):
        load(delivery, path, pg_schema)


def test_a_blank_line_in_a_file_without_quotes_loads_through_staging_with_its_lines(tmp_path, pg_schema):
    delivery, path = aula(tmp_path, [row("c1"), "", row("c2")])
    assert load(delivery, path, pg_schema) == 2
    assert pg_rows(pg_schema, "SELECT child_id, _line FROM aula ORDER BY _line") == [("c1", 2), ("c2", 4)]


def test_a_last_line_without_newline_loads(tmp_path, pg_schema):
    delivery, path = aula(tmp_path, [row("c1"), row("c2")])
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    delivery = type(delivery)(**{**delivery.__dict__, "size": path.stat().st_size})
    assert load(delivery, path, pg_schema) == 2
    assert pg_rows(pg_schema, "SELECT child_id, _line, messages_sent FROM aula ORDER BY _line") == [
        ("c1", 2, 2), ("c2", 3, 2)]


@pytest.mark.parametrize("data, numbered", [
    (b"h1;h2\na;b\nc;d\n", b"h1;h2\n2;a;b\n3;c;d\n"),
    (b"h1;h2\r\na;b\r\nc;d", b"h1;h2\r\n2;a;b\r\n3;c;d"),  # the last line without newline too
    (b"h\n\nx\n", b"h\n2;\n3;x\n"),  # a blank line keeps its number (COPY refuses it: staging)
    (b"h1;h2\n", b"h1;h2\n"), (b"h1;h2", b"h1;h2"), (b"", b""),
])
def test_lines_are_numbered_from_two_wherever_the_chunks_end(data, numbered):
    for cut in range(len(data) + 1):
        for second in range(cut, len(data) + 1):
            pieces = [data[:cut], data[cut:second], data[second:]]
            assert b"".join(pgcopy.number_lines(pieces)) == numbered


def test_a_line_longer_than_a_chunk_is_passed_on_as_it_comes():
    numbered = pgcopy.number_lines(iter([b"h\n", b"x" * 10, b"y" * 10, b"z\nw"]))
    assert [next(numbered), next(numbered), next(numbered)] == [b"h\n", b"2;" + b"x" * 10, b"y" * 10]
    assert b"".join(numbered) == b"z\n3;w"
