"""The sql and directory adapters against real databases and real export folders."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import time
from pathlib import Path

import pytest

from plugin_support import PG_URL
from sf1630.api import ExtractError
from sf1630.testing.conformance import SourceConformance, extract, make_job
from sf1630_plugins.sources import ky

KY_QUERY = ("SELECT payment_id, case_id, cpr, benefit_type, period_from, period_to, payment_date, "
            "gross_amount, tax_amount, net_amount FROM payments "
            "WHERE municipality = :municipality AND period = :period ORDER BY payment_id")


def make_sqlite_db(path: Path, rows: int = 3) -> str:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE payments (municipality TEXT, period TEXT, payment_id TEXT, case_id TEXT, cpr TEXT, "
                 "benefit_type TEXT, period_from TEXT, period_to TEXT, payment_date TEXT, gross_amount REAL, "
                 "tax_amount REAL, net_amount REAL)")
    for i in range(rows):
        conn.execute("INSERT INTO payments VALUES ('testby', 'M03', ?, 'C1', '0125801234', 'kontanthjælp; særlig', "
                     "'2024-03-01', '2024-03-31', NULL, 100.5, 30, 70.5)", (f"P{i}",))
    conn.execute("INSERT INTO payments VALUES ('andeby', 'M03', 'X', 'C', '', '', '', '', '', 1, 1, 1)")
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


def read(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=";"))


class TestSqlAdapterConformance(SourceConformance):
    source = ky.SOURCE

    def make_options(self, tmp_path):
        return ky.Options(adapter="sql", url=make_sqlite_db(tmp_path / "ky.db"), query=KY_QUERY)


def test_sql_adapter_streams_the_query_for_this_municipality_and_period(tmp_path):
    options = ky.Options(adapter="sql", url=make_sqlite_db(tmp_path / "ky.db"), query=KY_QUERY)
    data, result = extract(ky.SOURCE, make_job(ky.SOURCE, options))
    rows = read(data)
    assert result.rows == 3 and len(rows) == 4
    assert rows[1] == ["P0", "C1", "0125801234", "kontanthjælp; særlig", "2024-03-01", "2024-03-31", "",
                       "100.5", "30.0", "70.5"]


def test_sql_adapter_url_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KY_DB", make_sqlite_db(tmp_path / "ky.db", rows=1))
    options = ky.Options(adapter="sql", url_env="KY_DB", query=KY_QUERY)
    assert extract(ky.SOURCE, make_job(ky.SOURCE, options))[1].rows == 1


def test_sql_adapter_refuses_a_header_other_than_documented(tmp_path):
    url = make_sqlite_db(tmp_path / "ky.db")
    options = ky.Options(adapter="sql", url=url, query="SELECT payment_id, cpr FROM payments")
    with pytest.raises(ExtractError, match=r"missing \['case_id'"):
        extract(ky.SOURCE, make_job(ky.SOURCE, options))
    loose = ky.Options(adapter="sql", url=url, query="SELECT payment_id, cpr FROM payments", strict_header=False)
    assert read(extract(ky.SOURCE, make_job(ky.SOURCE, loose))[0])[0] == ["payment_id", "cpr"]


@pytest.mark.parametrize("url, query, message", [
    ("", KY_QUERY, "set 'url'"),
    ("mysql://x", KY_QUERY, "must start with sqlite"),
    ("sqlite:///nowhere/ky.db", KY_QUERY, "no SQLite database"),
    (None, "SELECT nonsense FROM nothing", "the query failed"),
])
def test_sql_adapter_errors_say_what_to_fix(tmp_path, url, query, message):
    url = make_sqlite_db(tmp_path / "ky.db") if url is None else url
    with pytest.raises(ExtractError, match=message):
        extract(ky.SOURCE, make_job(ky.SOURCE, ky.Options(adapter="sql", url=url, query=query)))


def test_sql_adapter_streams_from_postgresql_with_a_server_side_cursor(pg_schema):
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{pg_schema}"')
        conn.execute(f'CREATE TABLE "{pg_schema}".payments AS SELECT \'testby\'::text AS municipality, '
                     "'M03'::text AS period, 'P' || lpad(g::text, 6, '0') AS payment_id, 'C'::text AS case_id, "
                     "'0125801234'::text AS cpr, 'kontanthjælp'::text AS benefit_type, "
                     "DATE '2024-03-01' AS period_from, DATE '2024-03-31' AS period_to, NULL::date AS payment_date, "
                     "12.50::numeric AS gross_amount, 2.5::numeric AS tax_amount, 10::numeric AS net_amount, "
                     "'50%' AS note FROM generate_series(1, 2500) g")
    query = KY_QUERY.replace("FROM payments", f'FROM "{pg_schema}".payments').replace(
        "ORDER BY", "AND note LIKE '50%' AND period_from::text <> :source ORDER BY")
    options = ky.Options(adapter="sql", url=PG_URL, query=query)
    data, result = extract(ky.SOURCE, make_job(ky.SOURCE, options))
    rows = read(data)
    assert result.rows == 2500 and len(rows) == 2501
    assert rows[1] == ["P000001", "C", "0125801234", "kontanthjælp", "2024-03-01", "2024-03-31", "", "12.50",
                       "2.5", "10"]


# -- directory adapter ------------------------------------------------------------------------------

HEADER = ";".join(ky.SOURCE.header)


def export(folder: Path, name: str, rows: list[str], age: float, header: str = HEADER, bom: bool = False) -> Path:
    path = folder / name
    path.write_bytes(("\ufeff" if bom else "").encode() + (header + "\n" + "".join(r + "\n" for r in rows)).encode())
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def row(i: int) -> str:
    return f'P{i};C;0125801234;"ydelse; særlig";2024-03-01;2024-03-31;2024-03-05;10.00;3.00;7.00'


def test_directory_adapter_sends_the_newest_settled_export_and_moves_it_aside(tmp_path, now):
    folder = tmp_path / "exports" / "testby"
    folder.mkdir(parents=True)
    export(folder, "ky-jan.csv", [row(1)], age=600)
    newest = export(folder, "ky-feb.csv", [row(2), row(3)], age=300, bom=True)
    export(folder, "ky-running.csv", [row(4)], age=0)  # still being written: too fresh
    (folder / "notes.txt").write_text("not an export")
    options = ky.Options(adapter="directory", folder=tmp_path / "exports" / "{municipality}", settle_seconds=60)
    job = make_job(ky.SOURCE, options, created=now)
    data, result = extract(ky.SOURCE, job)
    assert data == newest.read_bytes()[3:]  # as it is, without the byte order mark
    assert result.rows == 2
    ky.SOURCE.delivered(job)
    assert sorted(p.name for p in (folder / "sent").iterdir()) == ["ky-feb.csv", "ky-jan.csv"]
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == ["ky-running.csv", "notes.txt"]


def test_directory_adapter_without_a_settled_export_says_so(tmp_path, now):
    export(tmp_path, "ky.csv", [row(1)], age=0)
    options = ky.Options(adapter="directory", folder=tmp_path, settle_seconds=60)
    with pytest.raises(ExtractError, match="has the export run"):
        extract(ky.SOURCE, make_job(ky.SOURCE, options, created=now))


@pytest.mark.parametrize("content, message", [
    (b"payment_id;cpr\nP1;0125801234\n", "differs from the documented columns"),
    ((HEADER + "\n" + row(1) + "\nP2;C\n").encode(), r"ky.csv:3: 2 fields"),
    ((HEADER + "\n").encode() + "P1;C;Søren".encode("latin-1") + b"\n", "not UTF-8"),
])
def test_directory_adapter_checks_the_export_before_it_is_sent(tmp_path, now, content, message):
    path = tmp_path / "ky.csv"
    path.write_bytes(content)
    os.utime(path, (time.time() - 120, time.time() - 120))
    options = ky.Options(adapter="directory", folder=tmp_path, settle_seconds=60)
    with pytest.raises(ExtractError, match=message):
        extract(ky.SOURCE, make_job(ky.SOURCE, options, created=now))


def test_directory_adapter_keeps_both_when_a_sent_name_repeats(tmp_path, now):
    (tmp_path / "sent").mkdir()
    (tmp_path / "sent" / "ky.csv").write_text("older")
    export(tmp_path, "ky.csv", [row(1)], age=120)
    options = ky.Options(adapter="directory", folder=tmp_path, settle_seconds=60)
    job = make_job(ky.SOURCE, options, created=now)
    extract(ky.SOURCE, job)
    ky.SOURCE.delivered(job)
    assert len(list((tmp_path / "sent").iterdir())) == 2 and not (tmp_path / "ky.csv").exists()


def test_a_relative_sqlite_url_is_relative_to_the_municipality_file(tmp_path, monkeypatch):
    from sf1630.options import build_options

    conf = tmp_path / "conf" / "municipalities"
    (conf / "db").mkdir(parents=True)
    make_sqlite_db(conf / "db" / "ky.db", rows=2)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # a service starts in another folder than the config's
    options = build_options(ky.Options, {"adapter": "sql", "url": "sqlite:///db/ky.db", "query": KY_QUERY},
                            "aarhus.toml", base=conf)
    assert extract(ky.SOURCE, make_job(ky.SOURCE, options))[1].rows == 2
    monkeypatch.setenv("KY_DB", "sqlite:///db/ky.db")  # from the environment: the same rule
    options = build_options(ky.Options, {"adapter": "sql", "url_env": "KY_DB", "query": KY_QUERY},
                            "aarhus.toml", base=conf)
    assert extract(ky.SOURCE, make_job(ky.SOURCE, options))[1].rows == 2


@pytest.mark.parametrize("value", [None, ""])
def test_an_unset_url_env_variable_is_named_never_a_default(value, monkeypatch):
    if value is None:
        monkeypatch.delenv("KY_DB_NOT_SET", raising=False)
    else:
        monkeypatch.setenv("KY_DB_NOT_SET", value)
    options = ky.Options(adapter="sql", url_env="KY_DB_NOT_SET", query=KY_QUERY)
    assert options.unresolved() == ["the environment variable KY_DB_NOT_SET named by url_env is not set or is empty; "
                                    "set it to the database URL in the agent's environment (e.g. the service's "
                                    "EnvironmentFile)"]
    with pytest.raises(ExtractError, match="KY_DB_NOT_SET named by url_env is not set"):
        extract(ky.SOURCE, make_job(ky.SOURCE, options))
