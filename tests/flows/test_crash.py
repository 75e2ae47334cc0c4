"""Crash recovery: the agent is killed at each step of sending and of receiving, then restarted.

The kill is ``SF1630_TEST_CRASH_AT=<step>`` (sf1630.core.steps.crash_point: ``os._exit(137)`` at that step,
like SIGKILL: no clean-up, no flush). After a restart every extract arrives exactly once with every
row, and nothing that the protocol says should be gone is left on the server or in the spool.
"""

from __future__ import annotations

import pytest

from sf1630.core.steps import CRASH_ENV

from .conftest import AULA, IKAST, KY, journal_rows, lis_database, loaded_rows, run_receive, run_send, sf1630

SEND_STEPS = ["extracted", "data_uploaded", "trigger_written", "trigger_uploaded", "receipt_read", "delivered"]
RECEIVE_STEPS = ["seen", "downloaded", "remote_deleted", "sinks_loaded", "loaded"]
ROWS = 20


def _setup(make_platform, make_agent_config):
    platform = make_platform(sources=(KY, AULA), municipalities=(IKAST,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=ROWS)
    lis = make_agent_config(platform, "lis-vendor", send=False)
    return platform, sender, lis


def _assert_clean(platform, sender, lis):
    for user in (KY.user, AULA.user, IKAST.lis_user):
        assert platform.files(user, "OUT") == [], user
        assert platform.files(user, "IN") == [], user
    for agent in (sender, lis):
        leftovers = [p for p in (agent.parent / "state" / "spool").rglob("*") if p.is_file()]
        assert leftovers == []


@pytest.mark.parametrize("step", SEND_STEPS)
def test_sender_killed_at_each_step_resumes_without_loss_or_double(make_platform, make_agent_config, step):
    platform, sender, lis = _setup(make_platform, make_agent_config)

    crashed = sf1630("send", "--config", str(sender), env={CRASH_ENV: step})
    assert crashed.returncode == 137, crashed.stderr
    again = sf1630("send", "--config", str(sender))
    assert again.returncode == 0, again.stdout + again.stderr

    sends = journal_rows(sender, "send")
    assert sorted(t.state for t in sends) == ["delivered", "delivered"]  # one send per extract, never two
    platform.wait_idle()
    reports, _ = run_receive(lis)
    rows = loaded_rows(lis_database(lis))
    assert sorted(rows) == sorted(t.file_name for t in sends)
    assert all(v == (ROWS, ROWS, ROWS) for v in rows.values())
    _assert_clean(platform, sender, lis)


@pytest.mark.parametrize("step", RECEIVE_STEPS)
def test_receiver_killed_at_each_step_resumes_without_loss_or_double(make_platform, make_agent_config, step):
    platform, sender, lis = _setup(make_platform, make_agent_config)
    summary, _ = run_send(sender)
    platform.wait_idle()

    crashed = sf1630("receive", "--config", str(lis), env={CRASH_ENV: step})
    assert crashed.returncode == 137, crashed.stderr
    again = sf1630("receive", "--config", str(lis))
    assert again.returncode == 0, again.stdout + again.stderr

    assert sorted(t.state for t in journal_rows(lis, "receive")) == ["loaded", "loaded"]
    rows = loaded_rows(lis_database(lis))
    assert sorted(rows) == sorted(t.file_name for t in summary.transfers)
    assert all(v[1:] == (ROWS, ROWS) for v in rows.values())
    _assert_clean(platform, sender, lis)


def test_a_receive_journalled_before_the_metadata_was_kept_in_the_journal_resumes(make_platform, make_agent_config):
    """An earlier version kept the metadata in a file beside the local copy, not in the claim; a transfer it
    left open after a crash resumes from that file."""
    import base64
    import json
    import sqlite3

    platform, sender, lis = _setup(make_platform, make_agent_config)
    summary, _ = run_send(sender)
    platform.wait_idle()
    crashed = sf1630("receive", "--config", str(lis), env={CRASH_ENV: "remote_deleted"})
    assert crashed.returncode == 137, crashed.stderr

    spool = lis.parent / "state" / "spool" / "in"
    db = sqlite3.connect(lis.parent / "state" / "journal.sqlite")
    with db:
        for tid, uuid, name, details in db.execute("SELECT id, file_transfer_uuid, file_name, details FROM transfers "
                                                   "WHERE state = 'remote_deleted'").fetchall():
            details = json.loads(details)
            raw = base64.b64decode(details.pop("metadata"))
            [local] = spool.rglob(name)
            assert local.parent.name == uuid
            (local.parent / details["metadata_name"]).write_bytes(raw)
            db.execute("UPDATE transfers SET details = ? WHERE id = ?", (json.dumps(details), tid))
    db.close()

    again = sf1630("receive", "--config", str(lis))
    assert again.returncode == 0, again.stdout + again.stderr
    loaded = journal_rows(lis, "receive")
    assert sorted(t.state for t in loaded) == ["loaded", "loaded"]
    assert not any("metadata" in t.details for t in loaded)  # kept only while the transfer is open
    rows = loaded_rows(lis_database(lis))
    assert sorted(rows) == sorted(t.file_name for t in summary.transfers)
    _assert_clean(platform, sender, lis)
