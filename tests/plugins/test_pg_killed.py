"""The ``postgres`` sink killed in the middle of its ``COPY``: the month is loaded whole or not at all,
and the agent's retry numbers every line once (issue #19)."""

from __future__ import annotations

import json

from plugin_support import PG_URL, big_aula_extract, kill_mid_load, pg_rows, wait_until
from sf1630_plugins.sinks import postgres

ROWS = 300_000

CHILD = """
import json, sys
from pathlib import Path
from sf1630.api import Delivery
from sf1630_plugins.sinks import postgres
d = Delivery(**json.loads(sys.argv[1]))
print("loading", flush=True)
print(postgres.SINK.load(d, Path(sys.argv[2]), postgres.Options(dsn=sys.argv[3], db_schema=sys.argv[4])).rows,
      flush=True)
"""


def _copies_running(schema: str) -> int:
    return len(pg_rows("public", "SELECT pid FROM pg_stat_activity WHERE query LIKE %s AND pid <> pg_backend_pid()",
                       (f'COPY "{schema}".%',)))


def test_killed_in_the_middle_of_copy_leaves_nothing_or_everything(tmp_path, pg_schema):
    delivery, path = big_aula_extract(tmp_path, ROWS)
    kill_mid_load(CHILD, [json.dumps(delivery.__dict__), str(path), PG_URL, pg_schema],
                  lambda: _copies_running(pg_schema), "COPY", 0.2)  # the load takes about a second
    assert wait_until(lambda: _copies_running(pg_schema) == 0, 120), "the server did not end the killed load"
    tables = pg_rows(pg_schema, "SELECT to_regclass('aula') IS NOT NULL")[0][0]
    loaded = pg_rows(pg_schema, "SELECT count(*) FROM aula")[0][0] if tables else 0
    recorded = pg_rows(pg_schema, "SELECT count(*) FROM deliveries")[0][0] if tables else 0
    assert (loaded, recorded) in ((0, 0), (ROWS, 1)), f"{loaded} rows and {recorded} deliveries after the kill"
    again = postgres.SINK.load(delivery, path, postgres.Options(dsn=PG_URL, db_schema=pg_schema))  # the retry
    assert (again.rows, again.duplicate) == ((0, True) if recorded else (ROWS, False))
    assert pg_rows(pg_schema, "SELECT count(*), count(DISTINCT _line), min(_line), max(_line) FROM aula") == [
        (ROWS, ROWS, 2, ROWS + 1)]
    assert pg_rows(pg_schema, "SELECT count(*) FROM information_schema.columns WHERE table_schema = %s "
                              "AND column_default IS NOT NULL", (pg_schema,)) == [(0,)]
