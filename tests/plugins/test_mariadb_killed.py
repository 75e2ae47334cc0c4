"""The ``mariadb`` sink killed in the middle of ``LOAD DATA``: the month is loaded whole or not at all (issue #19)."""

from __future__ import annotations

import json

from plugin_support import big_aula_extract, kill_mid_load, maria_rows, wait_until
from sf1630_plugins.sinks import mariadb

ROWS = 300_000

CHILD = """
import json, sys
from pathlib import Path
from sf1630.api import Delivery
from sf1630_plugins.sinks import mariadb
d = Delivery(**json.loads(sys.argv[1]))
print("loading", flush=True)
print(mariadb.SINK.load(d, Path(sys.argv[2]), mariadb.Options(dsn=sys.argv[3])).rows, flush=True)
"""


def _loads_running(database: str) -> int:
    return len(maria_rows("information_schema", "SELECT ID FROM PROCESSLIST WHERE INFO LIKE %s",
                          (f"LOAD DATA%`{database}`%",)))


def test_killed_in_the_middle_of_load_data_leaves_nothing_or_everything(tmp_path, maria_db):
    delivery, path = big_aula_extract(tmp_path, ROWS)
    dsn = f"mariadb://root@127.0.0.1/{maria_db}"
    kill_mid_load(CHILD, [json.dumps(delivery.__dict__), str(path), dsn], lambda: _loads_running(maria_db),
                  "LOAD DATA", 0.3)  # well inside the load: it takes seconds
    assert wait_until(lambda: _loads_running(maria_db) == 0, 120), "the server did not end the killed load"
    loaded = maria_rows(maria_db, "SELECT count(*) FROM aula")[0][0]
    recorded = maria_rows(maria_db, "SELECT count(*) FROM deliveries")[0][0]
    assert (loaded, recorded) in ((0, 0), (ROWS, 1)), f"{loaded} rows and {recorded} deliveries after the kill"
    again = mariadb.SINK.load(delivery, path, mariadb.Options(dsn=dsn))  # the agent's retry
    assert (again.rows, again.duplicate) == ((0, True) if recorded else (ROWS, False))
    assert maria_rows(maria_db, "SELECT count(*), count(DISTINCT _line) FROM aula")[0] == (ROWS, ROWS)
