"""Leases and fencing on a shared (PostgreSQL) journal (issue #21): one holder per unit, and a
holder that lost its lease can no longer write."""

from __future__ import annotations

import json
import threading
import time

import pytest

from sf1630.journal import open_journal
from sf1630.journal.fence import LeaseLost, fenced
from sf1630.journal.leases import Leases, holders
from sf1630.journal.processes import ProcessRecord, heartbeat, processes, stopped

from .conftest import AGENT


def test_a_holder_that_lost_its_lease_cannot_write_and_the_new_holder_can(pg_journal_url: str) -> None:
    with open_journal(pg_journal_url) as a_journal, open_journal(pg_journal_url) as b_journal:
        t, _ = a_journal.claim("receive", "LIS:u1", account="LIS", file_name="a.csv")
        a, b = Leases(a_journal, "host-a:1", ttl=1.0), Leases(b_journal, "host-b:2", ttl=1.0)
        assert a.acquire(["receive:LIS"], 1) == ["receive:LIS"]
        assert b.acquire(["receive:LIS"], 1) == []  # held: not taken
        old = a.held("receive:LIS")
        with fenced(old):
            a_journal.move(t.id, "downloaded")
        time.sleep(1.2)  # a stops renewing (SIGSTOP, a dead host): the lease runs out
        assert b.acquire(["receive:LIS"], 1) == ["receive:LIS"]
        new = b.held("receive:LIS")
        assert new.epoch == old.epoch + 1
        old.valid_until = time.monotonic() + 60  # even a holder whose clock says it is fine is refused
        with fenced(old), pytest.raises(LeaseLost, match="lost its lease"):
            a_journal.move(t.id, "remote_deleted")
        assert a.renew() == ["receive:LIS"] and a.held("receive:LIS") is None
        with fenced(new):
            b_journal.move(t.id, "remote_deleted")
        assert [h[0] for h in b_journal.history(t.id)] == ["seen", "downloaded", "remote_deleted"]
        assert holders(b_journal)["receive:LIS"][:2] == ("host-b:2", new.epoch)


def test_a_stopped_process_sees_its_lease_gone_before_acting(pg_journal_url: str) -> None:
    with open_journal(pg_journal_url) as journal:
        leases = Leases(journal, "host-a:1", ttl=0.4)
        leases.acquire(["send:m:ky:LIS"], 1)
        fence = leases.held("send:m:ky:LIS")
        fence.check()
        time.sleep(0.4)  # past three quarters of the lease without a renewal
        with pytest.raises(LeaseLost):
            fence.check()


def test_processes_trying_at_once_each_get_other_units(pg_journal_url: str) -> None:
    units = [f"receive:a{i}" for i in range(12)]
    got: dict[str, list[str]] = {}
    journals = [open_journal(pg_journal_url) for _ in range(4)]

    def take(n: int) -> None:
        got[f"p{n}"] = Leases(journals[n], f"p{n}", ttl=30).acquire(units, 3)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for j in journals:
        j.close()
    taken = [u for mine in got.values() for u in mine]
    assert sorted(taken) == sorted(units) and all(len(mine) == 3 for mine in got.values())


def test_status_shows_each_process_of_the_site(pg_journal_url: str, make_config, run_cli) -> None:
    with open_journal(pg_journal_url) as journal:
        now = time.time()
        heartbeat(journal, ProcessRecord("lis-1:4711:a", "lis-1", 4711, "0.1.0", now - 60, now))
        heartbeat(journal, ProcessRecord("lis-2:815:b", "lis-2", 815, "0.1.0", now - 600, now - 300), now - 300)
        heartbeat(journal, ProcessRecord("lis-3:99:c", "lis-3", 99, "0.0.9", now - 900, now))
        stopped(journal, "lis-3:99:c")
        assert [p.host for p in processes(journal)][0] in ("lis-1", "lis-3")
    path = make_config(AGENT.replace('journal = "state/journal.sqlite"', 'journal_env = "SITE_JOURNAL"'))
    done = run_cli("status", "--config", str(path), "--json", env={"SITE_JOURNAL": pg_journal_url})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    states = {(p["host"], p["pid"], p["version"]): p["state"] for p in report["processes"]}
    assert states == {("lis-1", 4711, "0.1.0"): "running", ("lis-2", 815, "0.1.0"): "not seen since",
                      ("lis-3", 99, "0.0.9"): "stopped"}
    assert report["journal"].startswith("postgresql://") and all(p["last_seen"] for p in report["processes"])
    table = run_cli("status", "--config", str(path), env={"SITE_JOURNAL": pg_journal_url}).stdout
    assert "Processes (3)" in table and "lis-2" in table and "not seen since" in table


def test_a_receive_is_handed_to_the_run_processes_of_the_site(pg_journal_url, make_config, run_cli):
    with open_journal(pg_journal_url) as journal:
        heartbeat(journal, ProcessRecord("lis-1:4711:a", "lis-1", 4711, "0.1.0", time.time(), time.time()))
    path = make_config(AGENT.replace('journal = "state/journal.sqlite"', 'journal_env = "SITE_JOURNAL"'))
    done = run_cli("receive", "--no-wait", "--config", str(path), env={"SITE_JOURNAL": pg_journal_url})
    assert done.returncode == 0, done.stderr
    assert "handed to the running sf1630 service (lis-1 pid 4711) as request 1" in done.stdout
    listed = json.loads(run_cli("status", "--config", str(path), "--json", env={"SITE_JOURNAL": pg_journal_url}).stdout)
    assert [(r["id"], r["state"]) for r in listed["requests"]] == [(1, "new")]
    assert listed["requests"][0]["command"].startswith("receive --municipality ")
