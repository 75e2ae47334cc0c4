"""The ``mariadb`` sink's straight load: a file without empty fields loads its columns without variables."""

from __future__ import annotations

import pytest

from plugin_support import maria_rows
from sf1630.api import LoadError
from sf1630_plugins.sinks import mariadb
from sf1630_plugins.sinks.mariadb_scan import scan

AULA = ["institution_number", "institution_type", "institution_name", "child_id", "group_name",
        "days_present", "days_sick", "days_absent_other", "parent_logins", "messages_sent"]
FULL = [["0101", "school", "Skolen; ved Søen", "0101210000", "3.B", "20", "0", "1", "4", "2"],
        ["0102", "kindergarten", "Børnehaven", "0202210000", "Bierne", "-3", "007", "0", "12", "0"],
        ["0103", "school", "Nord;Skolen", "0303210000", "0.A", "1", "2", "3", "4", "5"]]
SIZES = [1, 2, 3, 4, 5, 7, 1 << 20]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("data", "expected"), [
    (b"a;b\n1;2\n3;4\n", (3, False, False)),
    (b"a;b\r\n1;2\r\n3;4", (3, True, False)),
    (b'a;b\n"1;x";"2"\n', (2, False, False)),
    (b"a;b\n1;;2\n", (2, False, True)),
    (b"a;b\n;2\n", (2, False, True)),
    (b"a;b\n1;\n3;4\n", (3, False, True)),
    (b"a;b\r\n1;\r\n3;4\r\n", (3, True, True)),
    (b"a;b\r\n;1\r\n", (2, True, True)),
    (b'a;b\n1;""\n', (2, False, True)),
])
def test_scan_finds_every_empty_field(tmp_path, size, data, expected):
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    scanned = scan(path, size)
    assert scanned is not None and (scanned.lines, scanned.crlf, scanned.empty) == expected


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("data", [b"a;b\n1;2\n\n3;4\n", b"a;b\r\n1;2\r\n\r\n3;4\r\n", b"a;b\n1;2\r3;4\n",
                                  b"a\n1\n\n2\n", b"a;b\n1;2\n3;", b"a;b\r\n1;2\r\n3;", b'a;b\n"1";2\r\n3;4\r\n',
                                  b'a;b\r\n"1";2\n3;4\r\n'])
def test_scan_refuses_blank_lines_lone_carriage_returns_mixed_endings_and_a_last_empty_field_without_newline(
        tmp_path, size, data):
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    assert scan(path, size) is None


def _table(database: str, lines: int) -> list[tuple]:
    return maria_rows(database, f"SELECT {', '.join(f'`{c}`' for c in AULA)}, authority, period, source, _line "
                                f"FROM aula WHERE _line <= {lines} ORDER BY _line")


def test_a_file_without_empty_fields_loads_as_one_with_them(make_delivery, maria_db):
    options = mariadb.Options(dsn=f"mariadb://root@127.0.0.1:3306/{maria_db}")
    straight, straight_path = make_delivery(FULL, AULA, source="AULA")
    assert scan(straight_path).empty is False
    mariadb.SINK.load(straight, straight_path, options)
    full = _table(maria_db, 4)
    maria_rows(maria_db, "DROP TABLE aula")
    empty_row = ["0104", "school", "", "0404210000", "", "", "1", "", "2", ""]
    careful, careful_path = make_delivery([*FULL, empty_row], AULA, source="AULA")
    assert scan(careful_path).empty is True
    assert mariadb.SINK.load(careful, careful_path, options).rows == 4
    assert _table(maria_db, 4) == full
    assert full[1][:10] == ("0102", "kindergarten", "Børnehaven", "0202210000", "Bierne", -3, 7, 0, 12, 0)
    assert full[2][2] == "Nord;Skolen" and full[0][2] == "Skolen; ved Søen"
    assert maria_rows(maria_db, "SELECT institution_name, group_name, days_present, days_sick, messages_sent "
                                "FROM aula WHERE _line = 5") == [(None, None, None, 1, None)]


def test_a_quoted_empty_field_is_null(make_delivery, maria_db, tmp_path):
    options = mariadb.Options(dsn=f"mariadb://root@127.0.0.1:3306/{maria_db}")
    delivery, path = make_delivery([FULL[0]], AULA, source="AULA")
    path.write_bytes(path.read_bytes() + b'0105;school;"";0505210000;"";1;2;3;4;5\n'
                     b'0106;school;"Skolen ""Nord""";0606210000;"3.B";1;2;3;4;5\n')
    mariadb.SINK.load(delivery, path, options)
    assert maria_rows(maria_db, "SELECT institution_name, group_name FROM aula WHERE _line > 2 ORDER BY _line") == [
        (None, None), ('Skolen "Nord"', "3.B")]


@pytest.mark.parametrize("value", ["1.5", "abc", "99999999999999999999", "1e3", "1E3", "+5", " 5", "\t5"])
def test_a_misfit_without_empty_fields_names_line_and_column_and_loads_nothing(make_delivery, maria_db, value):
    options = mariadb.Options(dsn=f"mariadb://root@127.0.0.1:3306/{maria_db}")
    bad = [*FULL[1][:6], value, *FULL[1][7:]]
    delivery, path = make_delivery([FULL[0], bad, FULL[2]], AULA, source="AULA")
    assert scan(path).empty is False
    with pytest.raises(LoadError, match=rf"{path.name}:3: column 'days_sick'.*nothing was loaded"):
        mariadb.SINK.load(delivery, path, options)
    assert maria_rows(maria_db, "SELECT count(*) FROM deliveries") == [(0,)]
    assert maria_rows(maria_db, "SELECT count(*) FROM aula") == [(0,)]


def test_guessed_columns_without_empty_fields_keep_their_checks(make_delivery, maria_db):
    options = mariadb.Options(dsn=f"mariadb://root@127.0.0.1:3306/{maria_db}")
    rows = [[str(i), f"name {i}", "007"] for i in range(1, 2500)] + [["1.5", "late", "x"]]
    delivery, path = make_delivery(rows, ["id", "name", "code"], source="KY")
    assert scan(path).empty is False
    assert mariadb.SINK.load(delivery, path, options).rows == 2500
    assert maria_rows(maria_db, "SELECT id, name, code FROM ky WHERE _line IN (2, 2501) ORDER BY _line") == [
        ("1", "name 1", "007"), ("1.5", "late", "x")]


@pytest.mark.parametrize("ragged", [FULL[1][:9], [*FULL[1], "extra"]])
def test_a_ragged_row_without_empty_fields_names_its_line_and_loads_nothing(make_delivery, maria_db, ragged):
    options = mariadb.Options(dsn=f"mariadb://root@127.0.0.1:3306/{maria_db}")
    delivery, path = make_delivery([FULL[0], ragged, FULL[2]], AULA, source="AULA")
    assert scan(path).empty is False
    with pytest.raises(LoadError, match=rf"{path.name}:3: the row has another number of fields"):
        mariadb.SINK.load(delivery, path, options)
    assert maria_rows(maria_db, "SELECT count(*) FROM deliveries") == [(0,)]


@pytest.mark.parametrize("empty", [False, True])
def test_a_short_row_ending_in_a_text_column_names_its_line_and_loads_nothing(make_delivery, maria_db, empty):
    # Fields that load through variables: a short row leaves them NULL without a warning. Past the
    # rows read to guess the types, so that only the load sees it.
    options = mariadb.Options(dsn=f"mariadb://root@127.0.0.1:3306/{maria_db}")
    first = ["1", "", "x"] if empty else ["1", "a", "x"]
    rows = [first, *([str(i), "b", "y"] for i in range(2, 2500)), ["2500", "b"], ["2501", "c", "z"]]
    delivery, path = make_delivery(rows, ["id", "name", "note"], source="KY")
    assert scan(path).empty is empty
    with pytest.raises(LoadError, match=rf"{path.name}:2501: the row has another number of fields"):
        mariadb.SINK.load(delivery, path, options)
    assert maria_rows(maria_db, "SELECT count(*) FROM deliveries") == [(0,)]
