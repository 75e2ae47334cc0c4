"""The journal: claim, move, history, lists, durability across restarts, schema versions, file modes."""

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

from sf1630 import journal as journal_module
from sf1630.journal import SCHEMA_VERSION, JournalError, open_journal


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "journal.sqlite"


def test_claim_creates_once_and_returns_the_same_row_after(path: Path) -> None:
    with open_journal(path) as j:
        t, created = j.claim("send", "KY:a.csv", municipality="aarhus", source="ky", account="KY",
                             file_name="a.csv", period="M03", details={"recipient_code": "LIS"})
        again, created_again = j.claim("send", "KY:a.csv", file_name="other.csv")
    assert created and not created_again
    assert t.state == "planned" and again.id == t.id and again.file_name == "a.csv"
    assert again.details == {"recipient_code": "LIS"} and again.period == "M03"


def test_move_records_each_state_with_time_and_note(path: Path) -> None:
    with open_journal(path) as j:
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


def test_wrong_states_fields_and_ids_are_refused(path: Path) -> None:
    with open_journal(path) as j:
        t, _ = j.claim("receive", "LIS:uuid-1", file_name="a.csv", account="LIS")
        assert t.state == "seen"
        with pytest.raises(ValueError, match="'delivered' is not a receive state"):
            j.move(t.id, "delivered")
        with pytest.raises(TypeError, match="unknown journal field"):
            j.move(t.id, "downloaded", colour="red")
        with pytest.raises(JournalError, match="no transfer with id 999"):
            j.move(999, "downloaded")
        assert j.get_id(t.id).state == "seen"  # nothing of a refused move was kept


def test_list_filters_and_orders_newest_first(path: Path) -> None:
    with open_journal(path) as j:
        a, _ = j.claim("send", "k1", municipality="aarhus", source="ky", account="KY")
        b, _ = j.claim("send", "k2", municipality="ikast-brande", source="ky", account="KY")
        c, _ = j.claim("receive", "k3", municipality="aarhus", account="LIS")
        j.move(a.id, "extracted", next_attempt_at=50.0)
        j.move(c.id, "downloaded")
        assert [t.key for t in j.list()] == ["k3", "k1", "k2"]
        assert [t.key for t in j.list(kind="send")] == ["k1", "k2"]
        assert [t.key for t in j.list(states=["planned"])] == ["k2"]
        assert [t.key for t in j.list(municipality="aarhus")] == ["k3", "k1"]
        assert [t.key for t in j.list(kind="send", due_before=10.0)] == ["k2"]
        assert [t.key for t in j.list(limit=1)] == ["k3"]
        assert j.list(states=[]) == []
        assert {t.key for t in j.list_waiting()} == {"k1", "k2", "k3"}
        assert j.counts() == {("send", "extracted"): 1, ("send", "planned"): 1, ("receive", "downloaded"): 1}
        assert j.get("k2").id == b.id and j.get("nope") is None


def test_resends_are_listed(path: Path) -> None:
    with open_journal(path) as j:
        j.claim("send", "k1", details={"period": "M03"})
        j.claim("send", "k2", details={"period": "M03", "resend_reason": "LIS lost the load"})
        assert [t.key for t in j.list_resends()] == ["k2"]


def test_a_committed_state_survives_a_killed_process(path: Path) -> None:
    # The child commits a move and dies at once (SIGKILL, no clean-up): the state must be on disk.
    script = textwrap.dedent(f"""
        import os, signal
        from sf1630.journal import open_journal
        j = open_journal({str(path)!r})
        t, _ = j.claim("send", "KY:a.csv", file_name="a.csv", account="KY")
        j.move(t.id, "data_uploaded", size=10)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    assert result.returncode == -9
    with open_journal(path) as j:
        t = j.get("KY:a.csv")
        assert t is not None and t.state == "data_uploaded" and t.size == 10
        assert [h[0] for h in j.history(t.id)] == ["planned", "data_uploaded"]


def test_reopening_keeps_everything(path: Path) -> None:
    with open_journal(path) as j:
        t, _ = j.claim("receive", "LIS:u1", file_transfer_uuid="u1", details={"metadata_name": "a.csv.metadata"})
        j.move(t.id, "quarantined", error="disk full")
    with open_journal(path) as j:
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
    monkeypatch.setattr(journal_module, "MIGRATIONS", (*journal_module.MIGRATIONS, step))
    monkeypatch.setattr(journal_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with open_journal(path) as j:
        assert j.get("k1").file_name == "a.csv"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert "note" in [r[1] for r in db.execute("PRAGMA table_info(transfers)")]
    backup = path.with_name(f"{path.name}.schema{SCHEMA_VERSION}.bak")
    with sqlite3.connect(backup) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600


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


def test_threads_share_one_journal(path: Path) -> None:
    with open_journal(path) as j:
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
        assert all(len(j.history(t.id)) == 3 for t in j.list(limit=None))


def test_an_unreadable_file_is_reported(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalError, match="cannot use the journal"):
        open_journal(path)
