"""Whole flows through the simulator over real SFTP: several accounts at once, errors, no doubles."""

from __future__ import annotations

from .conftest import (AULA, HERNING, IKAST, KY, edit_toml, journal_rows, lis_database, loaded_rows, run_receive,
                       run_send)

from sf1630.events import Delivered, Failed, Loaded, Received


def test_two_sources_to_two_municipalities_arrive_once_with_every_row(make_platform, make_agent_config):
    platform = make_platform()
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=50)
    lis = make_agent_config(platform, "lis-vendor", send=False)

    summary, events = run_send(sender)
    assert [t.state for t in summary.transfers] == ["delivered"] * 4
    assert len(events.of(Delivered)) == 4
    platform.wait_idle()
    reports, events = run_receive(lis)

    assert sorted(len(r.loaded) for r in reports) == [2, 2]
    assert len(events.of(Received)) == 4 and len(events.of(Loaded)) == 4
    rows = loaded_rows(lis_database(lis))
    assert sorted(rows) == sorted(t.file_name for t in summary.transfers)
    assert all(v == (50, 50, 50) for v in rows.values())
    # Nothing left behind on the server (rules 3 and 4), nor in the spools.
    for user in (KY.user, AULA.user, IKAST.lis_user, HERNING.lis_user):
        assert platform.files(user, "OUT") == [] and platform.files(user, "IN") == []
    for agent in (sender, lis):
        assert [p for p in (agent.parent / "state" / "spool").rglob("*") if p.is_file()] == []


def test_each_lis_gets_its_own_municipalitys_files(make_platform, make_agent_config):
    platform = make_platform()
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=5)
    summary, _ = run_send(sender)
    platform.wait_idle()
    assert len(platform.files(IKAST.lis_user, "IN")) == 4  # two data files, two metadata files
    assert all(f"_{IKAST.cvr}_" in n for n in platform.files(IKAST.lis_user, "IN"))
    assert all(f"_{HERNING.cvr}_" in n for n in platform.files(HERNING.lis_user, "IN"))


def test_an_error_receipt_marks_failed_and_cleans_out(make_platform, make_agent_config):
    platform = make_platform(sources=(KY,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=5, municipalities=(IKAST,))
    edit_toml(sender.parent / "municipalities" / "ikast-brande.toml",
              lambda doc: doc["send"][0].update(recipients=["NOBODY_LIS01_SIMPEL"]))

    summary, events = run_send(sender)

    [t] = summary.transfers
    assert t.state == "cleaned" and t.error and "NOBODY_LIS01_SIMPEL" in t.error
    assert [e.transfer.file_name for e in events.of(Failed)] == [t.file_name]
    assert platform.files(KY.user, "OUT") == [] and platform.files(KY.user, "IN") == []
    assert [s for s, _, _ in _history(sender, t.id)] == [
        "planned", "extracted", "data_uploaded", "trigger_uploaded", "failed", "cleaned"]


def test_a_failed_extract_may_be_sent_again_but_a_delivered_one_not(make_platform, make_agent_config):
    platform = make_platform(sources=(KY,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=5, municipalities=(IKAST,))
    municipality = sender.parent / "municipalities" / "ikast-brande.toml"
    edit_toml(municipality, lambda doc: doc["send"][0].update(recipients=["NOBODY_LIS01_SIMPEL"]))
    first, _ = run_send(sender)
    edit_toml(municipality, lambda doc: doc["send"][0].update(recipients=[IKAST.lis_user]))

    second, _ = run_send(sender)
    third, events = run_send(sender)

    assert [t.state for t in first.transfers + second.transfers] == ["cleaned", "delivered"]
    assert [t.id for t in third.transfers] == [second.transfers[0].id]  # the same send, not a new one
    assert events.of(Delivered) == []
    assert len(journal_rows(sender, "send")) == 2
    platform.wait_idle()
    assert len(platform.files(IKAST.lis_user, "IN")) == 2  # one data file and its metadata


def _history(agent, transfer_id):
    from sf1630.journal import open_journal

    with open_journal(agent.parent / "state" / "journal.sqlite") as journal:
        return journal.history(transfer_id)


def test_a_resend_is_a_second_distinct_delivery_with_its_reason(make_platform, make_agent_config):
    platform = make_platform(sources=(KY,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=5, municipalities=(IKAST,))
    first, _ = run_send(sender)
    [sent] = first.transfers

    again, _ = run_send(sender, period=sent.period, resend_reason="LIS lost the load", resend_by="ops")

    [resent] = again.transfers
    assert resent.state == "delivered" and resent.id != sent.id and resent.period == sent.period
    assert resent.file_name != sent.file_name
    assert resent.details["senders_file_id"] != sent.details["senders_file_id"]
    assert (resent.details["resend_reason"], resent.details["resend_by"]) == ("LIS lost the load", "ops")
    platform.wait_idle()
    assert len(platform.files(IKAST.lis_user, "IN")) == 4


def test_a_late_receipt_alerts_once_and_the_sender_keeps_waiting(make_platform, make_agent_config):
    import threading

    from sf1630.events import ReceiptOverdue

    platform = make_platform(sources=(KY,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=5, municipalities=(IKAST,),
                               agent={"receipt_timeout": 1})
    platform.loop.call_soon_threadsafe(platform.platform.hold)  # the platform sits on the trigger
    release = threading.Timer(2.2, lambda: platform.loop.call_soon_threadsafe(platform.platform.release))
    release.start()
    try:
        summary, events = run_send(sender)
    finally:
        release.cancel()

    assert [t.state for t in summary.transfers] == ["delivered"]
    [late] = events.of(ReceiptOverdue)
    assert late.transfer.file_name == summary.transfers[0].file_name and late.waited >= 1
