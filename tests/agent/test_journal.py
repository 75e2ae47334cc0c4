"""The journal: claim, move, history, lists, durability across restarts, schema versions, file modes.

The tests that take ``where`` run against both backends: a SQLite file and a PostgreSQL database
(a fresh schema of the local test server each time).
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from sf1630.journal import schema as journal_schema
from sf1630.journal import SCHEMA_VERSION, JournalError, open_journal


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "journal.sqlite"


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request: pytest.FixtureRequest, path: Path) -> Path | str:
    """The journal's location: a SQLite file, or a postgresql:// URL."""
    return path if request.param == "sqlite" else request.getfixturevalue("pg_journal_url")


def test_claim_creates_once_and_returns_the_same_row_after(where: Path | str) -> None:
    with open_journal(where) as j:
        t, created = j.claim("send", "KY:a.csv", municipality="aarhus", source="ky", account="KY",
                             file_name="a.csv", period="M03", details={"recipient_code": "LIS"})
        again, created_again = j.claim("send", "KY:a.csv", file_name="other.csv")
    assert created and not created_again
    assert t.state == "planned" and again.id == t.id and again.file_name == "a.csv"
    assert again.details == {"recipient_code": "LIS"} and again.period == "M03"


def test_move_records_each_state_with_time_and_note(where: Path | str) -> None:
    with open_journal(where) as j:
        t, _ = j.claim("send", "KY:a.csv", file_name="a.csv", account="KY")
        j.move(t.id, "extracted", size=120, rows=3)
        j.move(t.id, "data_uploaded")
        j.move(t.id, "trigger_uploaded", note="trigger a.csv.trigger")
        done = j.move(t.id, "failed", error="receipt: 3 no route")
        history = j.history(t.id)
    assert (done.state, done.size, done.rows, done.error) == ("failed", 120, 3, "receipt: 3 no route")
    assert [h[0] for h in history] == ["planned", "extracted", "data_uploaded", "trigger_uploaded", "failed"]
    assert history[3][2] == "trigger a.csv.trigger" and history[4][2] == "receipt: 3 no route"
    assert [h[1] for h in history] == sorted(h[1] for h in history)


def test_wrong_states_fields_and_ids_are_refused(where: Path | str) -> None:
    with open_journal(where) as j:
        t, _ = j.claim("receive", "LIS:uuid-1", file_name="a.csv", account="LIS")
        assert t.state == "seen"
        with pytest.raises(ValueError, match="'delivered' is not a receive state"):
            j.move(t.id, "delivered")
        with pytest.raises(TypeError, match="unknown journal field"):
            j.move(t.id, "downloaded", colour="red")
        with pytest.raises(JournalError, match="no transfer with id 999"):
            j.move(999, "downloaded")
        assert j.get_id(t.id).state == "seen"  # nothing of a refused move was kept


def test_list_filters_and_orders_newest_first(where: Path | str) -> None:
    with open_journal(where) as j:
        a, _ = j.claim("send", "k1", municipality="aarhus", source="ky", account="KY")
        b, _ = j.claim("send", "k2", municipality="ikast-brande", source="ky", account="KY")
        c, _ = j.claim("receive", "k3", municipality="aarhus", account="LIS")
        j.move(a.id, "extracted", next_attempt_at=50.0)
        j.move(c.id, "downloaded")
        assert [t.key for t in j.transfers()] == ["k3", "k1", "k2"]
        assert [t.key for t in j.transfers(kind="send")] == ["k1", "k2"]
        assert [t.key for t in j.transfers(states=["planned"])] == ["k2"]
        assert [t.key for t in j.transfers(municipality="aarhus")] == ["k3", "k1"]
        assert [t.key for t in j.transfers(kind="send", due_before=10.0)] == ["k2"]
        assert [t.key for t in j.transfers(limit=1)] == ["k3"]
        assert j.transfers(states=[]) == []
        assert {t.key for t in j.list_waiting()} == {"k1", "k2", "k3"}
        assert j.counts() == {("send", "extracted"): 1, ("send", "planned"): 1, ("receive", "downloaded"): 1}
        assert j.get("k2").id == b.id and j.get("nope") is None


def test_resends_are_listed(where: Path | str) -> None:
    with open_journal(where) as j:
        j.claim("send", "k1", details={"period": "M03"})
        j.claim("send", "k2", details={"period": "M03", "resend_reason": "LIS lost the load"})
        assert [t.key for t in j.list_resends()] == ["k2"]


def test_a_committed_state_survives_a_killed_process(where: Path | str) -> None:
    # The child commits a move and dies at once (SIGKILL, no clean-up): the state must be on disk.
    script = textwrap.dedent(f"""
        import os, signal
        from sf1630.journal import open_journal
        j = open_journal({str(where)!r})
        t, _ = j.claim("send", "KY:a.csv", file_name="a.csv", account="KY")
        j.move(t.id, "data_uploaded", size=10)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    assert result.returncode == -9
    with open_journal(where) as j:
        t = j.get("KY:a.csv")
        assert t is not None and t.state == "data_uploaded" and t.size == 10
        assert [h[0] for h in j.history(t.id)] == ["planned", "data_uploaded"]


def test_reopening_keeps_everything(where: Path | str) -> None:
    with open_journal(where) as j:
        t, _ = j.claim("receive", "LIS:u1", file_transfer_uuid="u1", details={"metadata_name": "a.csv.metadata"})
        j.move(t.id, "quarantined", error="disk full")
    with open_journal(where) as j:
        again = j.get("LIS:u1")
        assert (again.state, again.error, again.details) == ("quarantined", "disk full",
                                                             {"metadata_name": "a.csv.metadata"})


def test_a_newer_journal_is_refused_with_a_clear_message(path: Path) -> None:
    open_journal(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(JournalError) as info:
        open_journal(path)
    assert f"this journal was written by a newer sf1630 (schema {SCHEMA_VERSION + 1}); upgrade the agent" \
        in str(info.value)
    assert str(path) in str(info.value)


def test_an_older_journal_is_migrated_and_backed_up(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_journal(path) as j:
        j.claim("send", "k1", file_name="a.csv")
    step = "ALTER TABLE transfers ADD COLUMN note TEXT"  # a future release's migration
    monkeypatch.setattr(journal_schema, "MIGRATIONS", (*journal_schema.MIGRATIONS, step))
    monkeypatch.setattr(journal_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with open_journal(path) as j:
        assert j.get("k1").file_name == "a.csv"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert "note" in [r[1] for r in db.execute("PRAGMA table_info(transfers)")]
    backup = path.with_name(f"{path.name}.schema{SCHEMA_VERSION}.bak")
    with sqlite3.connect(backup) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600


def test_a_newer_database_journal_is_refused_with_a_clear_message(pg_journal_url: str) -> None:
    import psycopg

    open_journal(pg_journal_url).close()
    with psycopg.connect(pg_journal_url, autocommit=True) as db:
        db.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(JournalError) as info:
        open_journal(pg_journal_url)
    assert f"this journal was written by a newer sf1630 (schema {SCHEMA_VERSION + 1}); upgrade the agent" \
        in str(info.value)
    assert "127.0.0.1:5432/test" in str(info.value)


def test_an_older_database_journal_is_migrated_once_by_hosts_starting_together(
        pg_journal_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    from sf1630.journal import pgschema

    with open_journal(pg_journal_url) as j:
        j.claim("send", "k1", file_name="a.csv")
    step = "ALTER TABLE transfers ADD COLUMN note TEXT"  # a future release's migration: it fails if run twice
    monkeypatch.setattr(pgschema, "MIGRATIONS", (*pgschema.MIGRATIONS, step))
    monkeypatch.setattr(journal_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    opened, errors = [], []

    def start() -> None:
        try:
            opened.append(open_journal(pg_journal_url))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(opened) == 4
    assert opened[0].get("k1").file_name == "a.csv"
    for j in opened:
        j.close()
    with psycopg.connect(pg_journal_url, autocommit=True) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION + 1,)]
        assert db.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 'transfers' "
                          "AND column_name = 'note' AND table_schema = current_schema()").fetchone() == (1,)


def test_both_backends_have_the_same_schema_versions() -> None:
    from sf1630.journal import pgschema

    assert len(pgschema.MIGRATIONS) == len(journal_schema.MIGRATIONS) == SCHEMA_VERSION


def test_an_unreachable_database_is_reported_with_what_to_check() -> None:
    with pytest.raises(JournalError) as info:
        open_journal("postgresql://sf1630:secret@127.0.0.1:1/journal")
    message = str(info.value)
    assert "postgresql://sf1630:***@127.0.0.1:1/journal: cannot connect to the journal database" in message
    assert "check the URL, that PostgreSQL runs" in message and "secret" not in message


def test_files_are_owner_only_and_in_wal_mode(path: Path) -> None:
    old = os.umask(0o022)
    try:
        j = open_journal(path)
        j.claim("send", "k1")
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
        j.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert modes == {"journal.sqlite": 0o600, "journal.sqlite-wal": 0o600, "journal.sqlite-shm": 0o600}
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_threads_share_one_journal(where: Path | str) -> None:
    with open_journal(where) as j:
        def work(n: int) -> None:
            for i in range(25):
                t, _ = j.claim("send", f"t{n}-{i}", account=f"A{n}")
                j.move(t.id, "extracted")
                j.move(t.id, "data_uploaded")

        threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert j.counts() == {("send", "data_uploaded"): 150}
        assert all(len(j.history(t.id)) == 3 for t in j.transfers(limit=None))


def test_an_unreadable_file_is_reported(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalError, match="cannot use the journal"):
        open_journal(path)


# -- group commit (issue #9): concurrent writes share a commit, each durable before it returns --------

def _drive(j, n: int, per: int) -> None:
    """Thread n claims ``per`` transfers and moves each through the send states, with fields and notes."""
    for i in range(per):
        t, created = j.claim("send", f"g{n}-{i}", account=f"A{n}", file_name=f"f{n}-{i}.csv", period="M03")
        assert created
        j.move(t.id, "extracted", size=n * 1000 + i, rows=i)
        j.move(t.id, "data_uploaded", note=f"data {n}-{i}")
        j.move(t.id, "trigger_uploaded", details={"thread": n, "i": i})
        done = j.move(t.id, "delivered", note=f"receipt {n}-{i}")
        assert (done.state, done.size, done.rows) == ("delivered", n * 1000 + i, i)


def _run_threads(target, count: int) -> list[BaseException]:
    errors: list[BaseException] = []

    def guarded(n: int) -> None:
        try:
            target(n)
        except BaseException as exc:  # collected: an assertion in a thread must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_many_threads_moving_many_transfers_all_end_durable_and_correct(where: Path | str) -> None:
    threads, per = 12, 20
    with open_journal(where) as j:
        assert _run_threads(lambda n: _drive(j, n, per), threads) == []
    with open_journal(where) as j:  # reopened: what is read now was on disk
        everything = j.transfers(limit=None)
        assert len(everything) == threads * per
        for t in everything:
            n, i = (int(x) for x in t.key[1:].split("-"))
            assert (t.state, t.size, t.rows, t.account, t.period) == ("delivered", n * 1000 + i, i, f"A{n}", "M03")
            assert t.details == {"thread": n, "i": i}
            history = j.history(t.id)
            assert [h[0] for h in history] == ["planned", "extracted", "data_uploaded", "trigger_uploaded",
                                               "delivered"]
            assert [h[2] for h in history] == ["claimed", "", f"data {n}-{i}", "", f"receipt {n}-{i}"]
        assert j.counts() == {("send", "delivered"): threads * per}


def _block_writes(where: Path | str):
    """Another connection that holds the journal's write lock until its ``release()``."""
    if isinstance(where, Path):
        blocker = sqlite3.connect(where, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        return lambda: (blocker.execute("ROLLBACK"), blocker.close())
    import psycopg

    conn = psycopg.connect(where)
    conn.execute("LOCK TABLE transfers IN EXCLUSIVE MODE")
    return lambda: (conn.rollback(), conn.close())


def test_a_bad_write_in_a_group_fails_only_its_own_caller(where: Path | str) -> None:
    j = open_journal(where)
    send, _ = j.claim("send", "s1", file_name="a.csv")
    receive, _ = j.claim("receive", "r1", file_name="b.csv")
    goods = [j.claim("send", f"ok{n}", file_name=f"ok{n}.csv")[0] for n in range(6)]
    # Another connection holds the write lock, so the first write waits in its commit and every
    # write after it queues behind it: those form one group together, the bad ones among them.
    release = _block_writes(where)
    outcomes: dict[str, object] = {}

    def call(name: str, fn, *args, **kw) -> threading.Thread:
        def run() -> None:
            try:
                outcomes[name] = fn(*args, **kw)
            except Exception as exc:
                outcomes[name] = exc
        thread = threading.Thread(target=run)
        thread.start()
        return thread

    threads = [call("first", j.move, send.id, "extracted", size=1)]
    while not j._group._leading:  # the first write leads, and waits for the lock
        threading.Event().wait(0.005)
    threads += [call(f"ok{n}", j.move, t.id, "extracted", size=n) for n, t in enumerate(goods)]
    threads += [call("no such id", j.move, 999, "extracted"), call("wrong kind", j.move, receive.id, "delivered"),
                call("new", j.claim, "send", "new1", file_name="new.csv")]
    while len(j._group._queue) < len(threads) - 1:
        threading.Event().wait(0.005)
    release()
    for t in threads:
        t.join(60)
    j.close()

    assert isinstance(outcomes["no such id"], JournalError) and "no transfer with id 999" in str(outcomes["no such id"])
    assert isinstance(outcomes["wrong kind"], ValueError)
    assert "'delivered' is not a receive state" in str(outcomes["wrong kind"])
    with open_journal(where) as again:
        assert again.get_id(send.id).state == "extracted" and outcomes["first"].size == 1
        for n, t in enumerate(goods):
            assert outcomes[f"ok{n}"].state == "extracted"
            assert (again.get_id(t.id).state, again.get_id(t.id).size) == ("extracted", n)
            assert [h[0] for h in again.history(t.id)] == ["planned", "extracted"]
        assert outcomes["new"][1] is True and again.get("new1").file_name == "new.csv"
        assert again.get_id(receive.id).state == "seen" and len(again.history(receive.id)) == 1


def test_a_write_that_returned_survives_a_kill_in_the_middle_of_others(where: Path | str) -> None:
    # Eight threads write as fast as they can; each prints a move once move() returned. The process
    # is killed while writes are queued and committing: every move it printed must be on disk.
    script = textwrap.dedent(f"""
        import os, signal, threading, time
        from sf1630.journal import open_journal
        j = open_journal({str(where)!r})
        def work(n):
            for i in range(10_000):
                t, _ = j.claim("send", f"k{{n}}-{{i}}", file_name="x.csv")
                for state in ("extracted", "data_uploaded"):
                    j.move(t.id, state)
                    os.write(1, f"{{t.key}} {{state}}\\n".encode())
        for n in range(8):
            threading.Thread(target=work, args=(n,), daemon=True).start()
        time.sleep(0.8)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert result.returncode == -9, result.stderr.decode()
    said = [line.split() for line in result.stdout.decode().splitlines()]
    assert len(said) > 50
    with open_journal(where) as j:
        for key, state in said:
            t = j.get(key)
            assert t is not None and state in [h[0] for h in j.history(t.id)], (key, state)


def test_a_problem_is_noted_once_per_kind_and_key_until_resolved(where: Path | str) -> None:
    with open_journal(where) as j:
        first, new = j.note_problem("work_stuck", "KY:a.csv", "key gone", 10.0, municipality="aarhus", account="KY")
        again, new_again = j.note_problem("work_stuck", "KY:a.csv", "key still gone", 20.0, account="KY")
        other, _ = j.note_problem("schema_changed", "LIS:u-1", "ky.amount widened", 15.0)
        assert (new, new_again) == (True, False) and again.id == first.id
        assert (again.message, again.since, again.seen_at) == ("key still gone", 10.0, 20.0)
        assert [p.kind for p in j.list_problems()] == ["work_stuck", "schema_changed"]
        assert [p.id for p in j.list_problems("schema_changed")] == [other.id]
        [closed] = j.resolve_problem("work_stuck", "KY:a.csv", 30.0, "the agent")
        assert (closed.id, closed.resolved_at, closed.resolved_by) == (first.id, 30.0, "the agent")
        assert [p.kind for p in j.list_problems()] == ["schema_changed"]
        assert len(j.list_problems(open_only=False)) == 2
        reopened, new = j.note_problem("work_stuck", "KY:a.csv", "gone again", 40.0)  # a new record, not the old
        assert new and reopened.id != first.id
        with pytest.raises(TypeError, match="unknown field"):
            j.note_problem("work_stuck", "x", "y", 1.0, colour="red")
