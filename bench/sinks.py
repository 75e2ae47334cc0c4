"""Part 4: loading one extract of 1,000,000 rows: the agent's sinks against the native bulk loaders.

SQLite: the ``sqlite`` sink against the ``sqlite3`` shell's ``.import`` into a fresh database.
PostgreSQL: the ``postgres`` sink against ``psql``'s ``\\copy`` into a fresh schema. MariaDB: the
``mariadb`` sink against ``LOAD DATA LOCAL INFILE`` run by the ``mariadb`` client into a fresh
database, and against ``mariadb-import --local`` (``mysqlimport``: the same statement, the table
named by the file, so it reads a link named ``extract.csv`` made before the clock starts). The native loaders load text columns as they are; the sinks also type the columns as the
source declares them, add the authority, period, source, line number and FileTransferUUID to every
row, record the delivery and make the ``_current`` view, all in one transaction. The sinks run
in a child process that times ``load()`` alone, with the database driver imported before (an agent
imports it once, at its first load; the import's time is measured and reported on its own); the
shells are timed whole (they start in ms).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import Stats, run_child

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
MARIADB = ["mariadb", "-h", "127.0.0.1", "-u", "root", "--local-infile=1"]
DRIVERS = {"postgres": ("psycopg",), "mariadb": ("pymysql",)}  # imported before the timed load


@dataclass
class SinkRow:
    """One loader's repeated runs."""

    loader: str
    rows: int
    per_second: Stats = field(default_factory=Stats)
    cpu: Stats = field(default_factory=Stats)
    errors: list[str] = field(default_factory=list)
    driver_import: Stats = field(default_factory=Stats)  # seconds to import the database driver, not timed


def _sink_child(kind: str, path: Path, target: str) -> list[str]:
    code = f"""
import json, sys, time
from pathlib import Path
from sf1630.api import Delivery
from sf1630.options import build_options
from sf1630.plugins import make_plugin_host
sink = make_plugin_host().sink({kind!r})
opts = {_options(kind, target)!r}
options = build_options(sink.Options, opts, "bench")
path = Path({str(path)!r})
t = time.perf_counter()
for driver in {DRIVERS.get(kind, ())!r}:
    __import__(driver)
imported = (time.perf_counter() - t) if {bool(DRIVERS.get(kind))!r} else None
d = Delivery("bench-{kind}-" + str(time.time()), "AULA_LIS_12345678_M03_20240402000000.csv", "AULA_SFTP", "BENCH_LIS",
             path.stat().st_size, source="AULA")
t = time.perf_counter()
result = sink.load(d, path, options)
print(json.dumps({{"seconds": time.perf_counter() - t, "rows": result.rows, "import": imported}}))
"""
    return [sys.executable, "-c", code]


def _options(kind: str, target: str) -> dict:
    if kind == "sqlite":
        return {"path": target}
    if kind == "mariadb":
        return {"dsn": f"mariadb://root@127.0.0.1/{target}"}
    return {"dsn": PG_DSN, "db_schema": target}


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as f:
        return next(csv.reader(f, delimiter=";"))


def _psql(sql: str) -> list[str]:
    return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-c", sql]


class SinkBench:
    """Runs the four loaders on one extract, ``repeats`` times, interleaved."""

    def __init__(self, work: Path, extract: Path, rows: int, repeats: int, log=print):
        self.work, self.extract, self.rows, self.repeats, self.log = work, extract, rows, repeats, log

    def run(self, postgres: bool = True, maria: bool = True) -> list[SinkRow]:
        loaders = ["sqlite sink", "sqlite3 .import"]
        if postgres and shutil.which("psql"):
            loaders += ["postgres sink", "psql \\copy"]
        if maria and shutil.which("mariadb"):
            loaders += ["mariadb sink", "mariadb LOAD DATA"]
            if shutil.which("mariadb-import"):
                loaders.append("mariadb-import")
        rows = {name: SinkRow(name, self.rows) for name in loaders}
        for rep in range(self.repeats):
            for name in loaders:
                run, ok = self._once(name, rep)
                row = rows[name]
                if ok:
                    row.per_second.add(self.rows / run.timed)
                    row.cpu.add(run.cpu)
                    imported = _imported(run)
                    if imported is not None:
                        row.driver_import.add(imported)
                    self.log(f"  {name:16s} {self.rows / run.timed:10.0f} rows/s  cpu {run.cpu:5.2f} s"
                             + (f"  (driver import {imported:.3f} s, not timed)" if imported is not None else ""))
                else:
                    row.errors.append((run.err or run.out)[-300:])
                    self.log(f"  {name} FAILED: {row.errors[-1]}")
        return list(rows.values())

    def _once(self, name: str, rep: int):
        db = self.work / f"load_{rep}.sqlite3"
        schema = f"bench_{os.getpid()}_{rep}"
        for p in (db, Path(str(db) + "-wal"), Path(str(db) + "-shm")):
            p.unlink(missing_ok=True)
        try:
            if name == "sqlite sink":
                run = run_child(_sink_child("sqlite", self.extract, str(db)))
                return run, run.code == 0 and _loaded(run) == self.rows
            if name == "sqlite3 .import":
                script = f'.mode csv\n.separator ";"\n.import "{self.extract}" extract\n'
                run = run_child(["sqlite3", str(db)], stdin=script)
                return run, run.code == 0 and _sqlite_count(db) == self.rows
            if name == "postgres sink":
                run = run_child(_sink_child("postgres", self.extract, schema))
                return run, run.code == 0 and _loaded(run) == self.rows
            if name.startswith("mariadb"):
                return self._mariadb(name, schema)
            columns = ", ".join(f'"{c}" text' for c in _header(self.extract))
            prep = run_child(_psql(f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.extract ({columns})"))
            if prep.code:
                return prep, False
            start = time.perf_counter()
            run = run_child(_psql(f"\\copy {schema}.extract FROM '{self.extract}' "
                                  "WITH (FORMAT csv, DELIMITER ';', HEADER true)"))
            run.seconds = time.perf_counter() - start
            return run, run.code == 0 and _pg_count(schema) == self.rows
        finally:
            db.unlink(missing_ok=True)
            if name.startswith("p"):
                run_child(_psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            if name.startswith("mariadb"):
                run_child([*MARIADB, "-e", f"DROP DATABASE IF EXISTS {schema}"])

    def _mariadb(self, name: str, database: str):
        if name == "mariadb sink":
            run = run_child(_sink_child("mariadb", self.extract, database))
            return run, run.code == 0 and _loaded(run) == self.rows
        columns = ", ".join(f"`{c}` TEXT" for c in _header(self.extract))
        prep = run_child([*MARIADB, "-e", f"CREATE DATABASE {database}; CREATE TABLE {database}.extract ({columns})"])
        if prep.code:
            return prep, False
        if name == "mariadb-import":
            link = self.work / f"import_{database}" / "extract.csv"  # the file names the table
            link.parent.mkdir(exist_ok=True)
            link.unlink(missing_ok=True)
            link.symlink_to(self.extract)
            command = ["mariadb-import", *MARIADB[1:5], "--local", "--default-character-set=utf8mb4",
                       "--fields-terminated-by=;", "--fields-optionally-enclosed-by=\"", "--ignore-lines=1",
                       database, str(link)]
        else:
            command = [*MARIADB, "-e", f"LOAD DATA LOCAL INFILE '{self.extract}' INTO TABLE {database}.extract "
                       "CHARACTER SET utf8mb4 FIELDS TERMINATED BY ';' OPTIONALLY ENCLOSED BY '\"' IGNORE 1 LINES"]
        start = time.perf_counter()
        run = run_child(command)
        run.seconds = time.perf_counter() - start
        if name == "mariadb-import":
            shutil.rmtree(self.work / f"import_{database}")
        count = run_child([*MARIADB, "-N", "-e", f"SELECT count(*) FROM {database}.extract"])
        return run, run.code == 0 and int(count.out.strip() or -1) == self.rows


def _loaded(run) -> int:
    for line in run.out.splitlines():
        if line.startswith("{"):
            return int(json.loads(line)["rows"])
    return -1


def _imported(run) -> float | None:
    for line in run.out.splitlines():
        if line.startswith("{"):
            return json.loads(line).get("import")
    return None


def _sqlite_count(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM extract").fetchone()[0]


def _pg_count(schema: str) -> int:
    run = run_child(["psql", "-X", "-At", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-c",
                     f"SELECT count(*) FROM {schema}.extract"])
    return int(run.out.strip() or -1)


def make_rows_extract(path: Path, rows: int, source: str = "aula") -> Path:
    """A valid extract of ``source`` with exactly ``rows`` rows (made once, then kept)."""
    stamp = path.with_suffix(".rows")
    if path.exists() and stamp.exists() and stamp.read_text() == str(rows):
        return path
    from datetime import datetime

    from sf1630.api import Job, Municipality
    from sf1630.options import build_options
    from sf1630.plugins import make_plugin_host

    src = make_plugin_host().source(source)
    opts = build_options(src.Options, {"adapter": "synthetic", "rows": rows}, "bench")
    job = Job(Municipality("m", "M", "12345678", "12345678"), src.code, "LIS", "M03", datetime(2024, 4, 2), opts)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        src.write_extract(job, out)
    stamp.write_text(str(rows))
    return path
