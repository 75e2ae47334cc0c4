"""The receiver's harder cases: a failing load, metadata that is not ours, stray files, old files."""

from __future__ import annotations

import re
import sqlite3

import pytest

from sf1630.documents import parse_document
from sf1630.errors import DocumentError
from sf1630.events import Failed, RetentionWarning, SchemaChanged, Stray

from .conftest import (IKAST, KY, edit_toml, journal_rows, lis_database, loaded_rows, run_receive, run_send)


def _one_delivery(make_platform, make_agent_config, **lis_kw):
    platform = make_platform(sources=(KY,), municipalities=(IKAST,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=10)
    lis = make_agent_config(platform, "lis-vendor", send=False, **lis_kw)
    summary, _ = run_send(sender)
    platform.wait_idle()
    return platform, lis, summary.transfers[0]


def test_a_failed_load_is_quarantined_then_loaded_on_a_later_round(make_platform, make_agent_config):
    platform, lis, sent = _one_delivery(make_platform, make_agent_config)
    database = lis_database(lis)
    with sqlite3.connect(database) as db:  # a table the LIS made itself, with other columns
        db.execute('CREATE TABLE ky (something_else TEXT)')
    municipality = lis.parent / "municipalities" / "ikast-brande.toml"
    edit_toml(municipality, lambda doc: doc["receive"]["sinks"][0]["options"].update(schema="strict"))

    reports, events = run_receive(lis)

    [t] = reports[0].quarantined
    assert t.state == "quarantined" and "strict" in t.error
    assert [e.transfer.file_name for e in events.of(Failed)] == [sent.file_name]
    kept = list((lis.parent / "state" / "spool" / "quarantine").rglob(sent.file_name))
    assert len(kept) == 1 and kept[0].stat().st_mode & 0o077 == 0  # owner-only (issue #14)
    assert platform.files(IKAST.lis_user, "IN") == []  # rule 4: never held on the server

    edit_toml(municipality, lambda doc: doc["receive"]["sinks"][0]["options"].update(schema="evolve"))
    reports, _ = run_receive(lis, quarantine_backoff=True)  # as `sf1630 run` does: not before its time
    assert reports[0].loaded == [] and journal_rows(lis, "receive")[0].state == "quarantined"

    reports, events = run_receive(lis)  # as `sf1630 receive` does: at once

    assert [t.file_name for t in reports[0].loaded] == [sent.file_name]
    assert loaded_rows(database)[sent.file_name] == (10, 10, 10)
    assert list((lis.parent / "state" / "spool").rglob("*.csv")) == []


def test_metadata_for_another_user_or_an_unexpected_sender_is_left_and_reported_once(make_platform,
                                                                                    make_agent_config):
    platform, lis, sent = _one_delivery(make_platform, make_agent_config)
    edit_toml(lis.parent / "municipalities" / "ikast-brande.toml",
              lambda doc: doc["receive"].update(expected_senders=["DUBU_SFTPSIMPEL"]))

    reports, events = run_receive(lis)

    assert reports[0].loaded == [] and reports[0].skipped == [f"{sent.file_name}.metadata"]
    [stray] = events.of(Stray)
    assert "KY_SFTPSIMPEL is not among the expected senders" in stray.reason
    assert platform.files(IKAST.lis_user, "IN") == sorted([sent.file_name, f"{sent.file_name}.metadata"])
    assert journal_rows(lis, "receive") == []


def test_unreadable_metadata_is_left_in_place_and_the_rest_still_loads(make_platform, make_agent_config):
    platform, lis, sent = _one_delivery(make_platform, make_agent_config)
    platform.put(IKAST.lis_user, "IN", "broken.csv", b"a;b\n1;2\n")
    platform.put(IKAST.lis_user, "IN", "broken.csv.metadata", b"<FileMetadata><oops")

    reports, events = run_receive(lis)

    assert [t.file_name for t in reports[0].loaded] == [sent.file_name]
    assert [s.path for s in events.of(Stray)] == ["IN/broken.csv.metadata"]
    assert platform.files(IKAST.lis_user, "IN") == ["broken.csv", "broken.csv.metadata"]


def test_data_without_metadata_is_reported_after_grace_and_removed_after_twice(make_platform, make_agent_config):
    platform = make_platform(sources=(KY,), municipalities=(IKAST,))
    lis = make_agent_config(platform, "lis-vendor", send=False, agent={"grace_seconds": 100})
    platform.put(IKAST.lis_user, "IN", "young.csv", b"x\n", age=10)
    platform.put(IKAST.lis_user, "IN", "late.csv", b"x\n", age=150)
    platform.put(IKAST.lis_user, "IN", "old.csv", b"x\n", age=250)

    _, events = run_receive(lis)

    by_path = {s.path: s for s in events.of(Stray)}
    assert set(by_path) == {"IN/late.csv", "IN/old.csv"}
    assert by_path["IN/old.csv"].removed and not by_path["IN/late.csv"].removed
    assert platform.files(IKAST.lis_user, "IN") == ["late.csv", "young.csv"]


def test_own_files_older_than_warn_days_raise_a_retention_warning(make_platform, make_agent_config):
    platform = make_platform(sources=(KY,), municipalities=(IKAST,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=5)
    platform.put(KY.user, "OUT", "forgotten.csv", b"x\n", age=25 * 86400)
    platform.put(KY.user, "IN", "recent.sftpreceipt", b"<x/>", age=3 * 86400)

    summary, events = run_send(sender)

    [warning] = events.of(RetentionWarning)
    assert (warning.account, warning.path, round(warning.age_days)) == ("KY", "OUT/forgotten.csv", 25)
    assert summary.ok


def test_a_changed_table_fires_schema_changed_and_is_journalled(make_platform, make_agent_config):
    platform, lis, sent = _one_delivery(make_platform, make_agent_config)
    with sqlite3.connect(lis_database(lis)) as db:  # an older table: a column the source no longer writes
        db.execute('CREATE TABLE ky (payment_id TEXT, retired_column TEXT)')

    reports, events = run_receive(lis)

    [t] = reports[0].loaded
    [changed] = events.of(SchemaChanged)
    assert changed.sink == "sqlite"
    assert {(c.column, c.kind) for c in changed.changes} >= {("case_id", "added"), ("retired_column", "missing")}
    assert any("retired_column missing" in line for line in t.details["schema_changes"])
    assert loaded_rows(lis_database(lis))[sent.file_name] == (10, 10, 10)


def test_metadata_with_the_older_trigger_root_loads_the_same(make_platform, make_agent_config):
    platform = make_platform(sources=(KY,), municipalities=(IKAST,), metadata_root="Trigger")
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=4)
    lis = make_agent_config(platform, "lis-vendor", send=False)
    summary, _ = run_send(sender)
    platform.wait_idle()
    [name] = [n for n in platform.files(IKAST.lis_user, "IN") if n.endswith(".metadata")]
    assert b"<ns2:Trigger" in (platform.root / IKAST.lis_user / "IN" / name).read_bytes()

    reports, _ = run_receive(lis)

    assert [t.file_name for t in reports[0].loaded] == [summary.transfers[0].file_name]
    assert loaded_rows(lis_database(lis))[summary.transfers[0].file_name] == (4, 4, 4)


@pytest.mark.parametrize("form", ["default-namespace", "qualified-children"])
def test_metadata_the_contract_refuses_is_still_read_by_the_receiver(make_platform, make_agent_config, form):
    # The receiver stays liberal about what the platform sends (issue #22); validate says both.
    platform, lis, sent = _one_delivery(make_platform, make_agent_config)
    path = platform.root / IKAST.lis_user / "IN" / f"{sent.file_name}.metadata"
    data = path.read_bytes()
    if form == "default-namespace":
        data = data.replace(b"ns2:", b"").replace(b"xmlns:ns2", b"xmlns")
    else:
        data = re.sub(rb"<(/?)(?!ns2:)([A-Za-z])", rb"<\1ns2:\2", data)
    path.write_bytes(data)
    with pytest.raises(DocumentError, match="in the namespace|the namespace is the default"):
        parse_document(data)    # the contract's reading refuses it

    reports, _ = run_receive(lis)

    assert [t.file_name for t in reports[0].loaded] == [sent.file_name]
    assert loaded_rows(lis_database(lis))[sent.file_name] == (10, 10, 10)
