"""Resending a period (issue #14): a second, distinct delivery with its reason and who asked for it."""

from __future__ import annotations

import getpass
import json
import sqlite3

import pytest

from sf1630.journal import open_journal

from .conftest import IKAST, KY, cli, journal_path


def test_a_resend_arrives_as_a_second_distinct_delivery_and_the_journal_shows_why(world):
    sender, lis = world.sender(), world.lis()
    first = cli("send", "--config", str(sender))
    assert first.returncode == 0, first.stderr
    with open_journal(journal_path(sender)) as j:
        [sent] = j.transfers(kind="send")

    again = cli("send", "--config", str(sender))  # without --resend: never sent twice
    resend = cli("send", "--config", str(sender), "--resend", "--municipality", IKAST.key, "--source", "ky",
                 "--period", sent.period, "--reason", "LIS lost the load of 3 April", env={"SUDO_USER": "mette"})

    assert again.returncode == 0 and sent.file_name in again.stdout, again.stderr
    assert resend.returncode == 0, resend.stderr
    assert f"resending {IKAST.key} ky {sent.period} again after {sent.file_name}" in resend.stdout
    assert "resend: LIS lost the load of 3 April" in resend.stdout
    with open_journal(journal_path(sender)) as j:
        sends = j.transfers(kind="send", limit=None)
        history = j.history(sends[0].id)
    assert len(sends) == 2 and all(t.state == "delivered" for t in sends)  # the plain second send added none
    resent = next(t for t in sends if t.id != sent.id)
    assert resent.period == sent.period and resent.file_name != sent.file_name
    assert resent.details["senders_file_id"] != sent.details["senders_file_id"]
    assert resent.details["resend_reason"] == "LIS lost the load of 3 April"
    assert resent.details["resend_by"] == f"{getpass.getuser()} (sudo by mette)"
    assert [s for s, _, _ in history][-1] == "delivered"

    world.wait_idle()
    received = cli("receive", "--config", str(lis))
    assert received.returncode == 0, received.stderr
    with sqlite3.connect(lis.parent / "lis.sqlite3") as db:
        deliveries = db.execute("SELECT file_name, file_transfer_uuid, rows FROM deliveries").fetchall()
        per_uuid = dict(db.execute("SELECT _file_transfer_uuid, count(*) FROM ky GROUP BY 1").fetchall())
    assert sorted(name for name, _, _ in deliveries) == sorted([sent.file_name, resent.file_name])
    assert len({uuid for _, uuid, _ in deliveries}) == 2  # two FileTransferUUIDs: two deliveries
    assert per_uuid == {uuid: rows for _, uuid, rows in deliveries} and set(per_uuid.values()) == {5}

    status = cli("status", "--config", str(sender), "--json")
    [shown] = json.loads(status.stdout)["resends"]
    by = f"{getpass.getuser()} (sudo by mette)"
    assert (shown["file_name"], shown["why"]) == (resent.file_name, f"LIS lost the load of 3 April (by {by})")
    table = cli("status", "--config", str(sender))
    assert "Resends (1)" in table.stdout and "LIS lost the load of 3 April" in table.stdout


@pytest.mark.parametrize("leave_out", ["--municipality", "--source", "--period", "--reason"])
def test_an_incomplete_resend_is_refused_and_sends_nothing(world, leave_out):
    sender = world.sender()
    given = {"--municipality": IKAST.key, "--source": "ky", "--period": "M03", "--reason": "LIS lost it"}
    args = [x for flag, value in given.items() if flag != leave_out for x in (flag, value)]

    done = cli("send", "--config", str(sender), "--resend", *args)

    assert done.returncode == 1
    assert f"sf1630 send --resend: it lacks {leave_out} " in done.stderr
    assert "sf1630 send --resend --municipality" in done.stderr  # an example of the whole command
    assert not journal_path(sender).exists() and world.files(KY.user, "OUT") == []


def test_a_resend_of_something_not_configured_says_what_is(world):
    sender = world.sender()
    done = cli("send", "--config", str(sender), "--resend", "--municipality", "aarhus", "--source", "ky",
               "--period", "M03", "--reason", "LIS lost it")
    assert done.returncode == 2
    assert f"--municipality 'aarhus' matches no municipality; configured: {IKAST.key}" in done.stderr


def test_a_reason_without_resend_is_refused():
    done = cli("send", "--reason", "LIS lost it")
    assert done.returncode == 1 and "--reason goes with --resend" in done.stderr



def test_a_resent_period_is_loaded_as_a_repeat_and_status_names_it(world):
    sender, lis = world.sender(), world.lis()
    assert cli("send", "--config", str(sender)).returncode == 0
    with open_journal(journal_path(sender)) as j:
        [sent] = j.transfers(kind="send")
    world.wait_idle()
    assert cli("receive", "--config", str(lis)).returncode == 0
    resend = cli("send", "--config", str(sender), "--resend", "--municipality", IKAST.key, "--source", "ky",
                 "--period", sent.period, "--reason", "corrected absence figures")
    assert resend.returncode == 0, resend.stderr
    world.wait_idle()

    received = cli("receive", "--config", str(lis))

    assert received.returncode == 0, received.stderr
    with sqlite3.connect(lis.parent / "lis.sqlite3") as db:
        first_uuid, second_name = db.execute(
            "SELECT (SELECT file_transfer_uuid FROM deliveries WHERE file_name = ?), "
            "(SELECT file_name FROM deliveries WHERE file_name <> ?)", (sent.file_name, sent.file_name)).fetchone()
    assert "WARNING" in received.stderr and f"{second_name} repeats {first_uuid}" in received.stderr
    status = cli("status", "--config", str(lis), "--json")
    [shown] = json.loads(status.stdout)["repeats"]
    assert (shown["file_name"], shown["earlier"]) == (second_name, [first_uuid])
    assert "both kept, <table>_current shows the latest" in shown["why"]
    with open_journal(journal_path(lis)) as j:
        [repeated] = [t for t in j.transfers(kind="receive") if t.file_name == second_name]
    assert repeated.details["repeats"] == {"sqlite": {"earlier": [first_uuid], "replaced": []}}
    table = cli("status", "--config", str(lis)).stdout
    assert "Repeated deliveries (1)" in table and f"repeats {first_uuid}" in table and second_name in table
