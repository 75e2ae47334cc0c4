"""Hostile and broken input reaching the agent (issue #5).

Files are written straight into the LIS user's IN/ (or the source's IN/) under the simulator's
root, as a broken or malicious platform would leave them. tests/documents covers the parsers on
their own and tests/flows the unreadable-metadata and unexpected-sender rounds; here each case
goes through a whole receive (or send) and the test checks what a user sees: a clear error that
says what and where, nothing written outside the spool, nothing already loaded changed, and the
good deliveries of the same round still loaded.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from sf1630.events import Stray
from sf1630.testing.faultproxy import wait_for

from .conftest import IKAST, KY, lis_database, run_receive, run_send, sf1630
from .world import Process, database_rows, peek, states

NS = "http://serviceplatformen.dk/xml/wsdl/soap11/SFTP/1/types"
SECRET = "TOPSECRET-5f2a"


def metadata(name: str, size: int, ftu: str | None = None, *, prolog: str = "", sender: str = KY.user) -> bytes:
    """A metadata file as the platform writes one, with any FileName (escaped as XML text)."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n{prolog}<ns2:FileMetadata xmlns:ns2="{NS}">'
            f"<FileTransferUUID>{ftu or uuid.uuid4()}</FileTransferUUID><FileDescriptor>"
            f"<FileName>{name}</FileName><SizeInBytes>{size}</SizeInBytes><Sender>{sender}</Sender>"
            f"<Recipients>{IKAST.lis_user}</Recipients></FileDescriptor><FileContentDescriptor/>"
            "</ns2:FileMetadata>").encode()


def _loaded_first(world) -> dict:
    """One good delivery loaded, then a second one waiting in IN/; returns the database before."""
    assert run_send(world.sender)[0].ok
    world.platform.wait_idle()
    run_receive(world.lis)
    before = database_rows(lis_database(world.lis))
    assert len(before) == 1
    summary, _ = run_send(world.sender, period="M01")
    assert summary.ok
    world.platform.wait_idle()
    return before


def _inbox(world) -> Path:
    return world.platform.root / IKAST.lis_user / "IN"


def _after(world, before: dict, events) -> None:
    """The good second delivery loaded, the first unchanged, nothing of ours left in the spool."""
    after = database_rows(lis_database(world.lis))
    assert len(after) == 2 and {k: after[k] for k in before} == before
    spool = world.lis.parent / "state" / "spool"
    assert [p for p in spool.rglob("*") if p.is_file()] == []
    assert states(world.lis, "receive") == {"loaded": 2}


HOSTILE_NAMES = {
    "dotdot": ("../../escape.csv", "'/' or '\\\\'|'\\.\\.'|separator|path"),
    "absolute": ("/tmp/escape.csv", "'/' or '\\\\'|separator|path"),
    "control": ("KY\x7fLIS.csv", "control"),
    "newline": ("KY_LIS\nINFO forged log line.csv", "control"),
    "long": ("K" * 296 + ".csv", "255"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_NAMES))
def test_a_hostile_file_name_in_metadata_is_refused_and_nothing_is_written_outside(make_world, tmp_path, case):
    import re

    name, reason = HOSTILE_NAMES[case]
    world = make_world(rows=5)
    before = _loaded_first(world)
    (_inbox(world) / "hostile.csv").write_bytes(b"a;b\n1;2\n")
    (_inbox(world) / "hostile.csv.metadata").write_bytes(metadata(escape(name), 8))

    reports, events = run_receive(world.lis)

    assert reports[0].skipped == ["hostile.csv.metadata"]
    [stray] = events.of(Stray)
    assert stray.path == "IN/hostile.csv.metadata" and re.search(reason, stray.reason), stray.reason
    assert "\n" not in stray.reason  # a name cannot forge a log line
    assert sorted(world.platform.files(IKAST.lis_user, "IN")) == ["hostile.csv", "hostile.csv.metadata"]
    assert not [p for p in tmp_path.parent.rglob("escape.csv")] and not Path("/tmp/escape.csv").exists()
    _after(world, before, events)


def test_xxe_entity_expansion_and_schema_invalid_metadata_are_refused_without_reading_anything(make_world,
                                                                                               tmp_path):
    world = make_world(rows=5)
    before = _loaded_first(world)
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    laughs = "".join(f'<!ENTITY l{i} "{"&l%d;" % (i - 1) * 10 if i else "ha"}">' for i in range(10))
    cases = {
        "xxe": metadata("&s;", 8, prolog=f'<!DOCTYPE m [<!ENTITY s SYSTEM "file://{secret}">]>\n'),
        "laughs": metadata("&l9;", 8, prolog=f"<!DOCTYPE m [{laughs}]>\n"),
        "size": metadata("size.csv", 8).replace(b"<SizeInBytes>8<", b"<SizeInBytes>lots<"),
        "uuid": metadata("uuid.csv", 8).replace(b"<FileTransferUUID>", b"<Other>").replace(
            b"</FileTransferUUID>", b"</Other>"),
    }
    for label, document in cases.items():
        (_inbox(world) / f"{label}.csv").write_bytes(b"a;b\n1;2\n")
        (_inbox(world) / f"{label}.csv.metadata").write_bytes(document)

    reports, events = run_receive(world.lis)

    assert sorted(reports[0].skipped) == sorted(f"{label}.csv.metadata" for label in cases)
    reasons = {s.path.split("/")[1].split(".")[0]: s.reason for s in events.of(Stray)}
    assert "DOCTYPE" in reasons["xxe"] and "DOCTYPE" in reasons["laughs"], reasons
    assert "SizeInBytes" in reasons["size"] and "FileTransferUUID" in reasons["uuid"], reasons
    journal = (world.lis.parent / "state" / "journal.sqlite").read_bytes()
    assert SECRET not in " ".join(reasons.values()) and SECRET.encode() not in journal
    _after(world, before, events)


def test_a_data_file_that_is_not_utf8_or_has_ragged_rows_is_quarantined_and_changes_nothing(make_world):
    world = make_world(rows=5)
    before = _loaded_first(world)
    broken = {"KY_LIS_11111111_X01_20240101000000.csv": b"a;b\n1;2\n\xff\xfe;\x80\n",
              "KY_LIS_11111111_X02_20240101000000.csv": b"a;b\n1;2\n3;4;5\n6;7\n"}
    for name, data in broken.items():
        (_inbox(world) / name).write_bytes(data)
        (_inbox(world) / f"{name}.metadata").write_bytes(metadata(name, len(data)))

    reports, _ = run_receive(world.lis)

    errors = sorted(t.error for t in reports[0].quarantined)
    assert len(errors) == 2 and len(reports[0].loaded) == 1
    assert "X01_20240101000000.csv:" in errors[0] and "unreadable" in errors[0] and "utf-8" in errors[0]
    assert "X02_20240101000000.csv:3: 3 fields, the header has 2" in errors[1]
    assert "\\xff" not in errors[0] and "3;4;5" not in errors[1]  # no row data in errors (issue #14)
    after = database_rows(lis_database(world.lis))
    assert len(after) == 2 and {k: after[k] for k in before} == before
    assert world.platform.files(IKAST.lis_user, "IN") == []  # rule 4: kept in quarantine, not on the server
    with sqlite3.connect(lis_database(world.lis)) as db:
        assert db.execute("SELECT count(*) FROM deliveries WHERE file_name LIKE '%X0%'").fetchone() == (0,)


def test_a_metadata_file_whose_size_lies(make_world, caplog):
    world = make_world(rows=5)
    before = _loaded_first(world)
    data = b"payment_id;case_id\n1;2\n"
    for name, size in (("KY_LIS_11111111_X03_20240101000000.csv", len(data) + 100),
                       ("KY_LIS_11111111_X04_20240101000000.csv", len(data) - 5)):
        (_inbox(world) / name).write_bytes(data)
        (_inbox(world) / f"{name}.metadata").write_bytes(metadata(name, size))

    reports, _ = run_receive(world.lis, retry_base=0.01)  # the transport retries a size mismatch

    assert len(reports[0].loaded) == 1 and len(reports[0].waiting) == 2
    for size in (len(data) + 100, len(data) - 5):
        assert f"the server has {len(data)} bytes, expected {size}" in caplog.text
    assert len(world.platform.files(IKAST.lis_user, "IN")) == 4  # left for someone to look at
    after = database_rows(lis_database(world.lis))
    assert len(after) == 2 and {k: after[k] for k in before} == before


def test_a_duplicated_file_transfer_uuid_is_refused_and_the_first_delivery_stays(make_world):
    world = make_world(rows=5)
    before = _loaded_first(world)
    [(first, ftu)] = peek(world.lis, "SELECT file_name, file_transfer_uuid FROM transfers WHERE kind = 'receive'")
    data = b"payment_id;case_id\n1;2\n"
    name = "KY_LIS_11111111_X05_20240101000000.csv"
    (_inbox(world) / name).write_bytes(data)
    (_inbox(world) / f"{name}.metadata").write_bytes(metadata(name, len(data), ftu))

    reports, events = run_receive(world.lis)

    [stray] = events.of(Stray)
    assert stray.path == f"IN/{name}.metadata" and ftu in stray.reason and first in stray.reason
    assert sorted(world.platform.files(IKAST.lis_user, "IN")) == [name, f"{name}.metadata"]  # not taken
    assert peek(world.lis, "SELECT file_name FROM transfers WHERE file_transfer_uuid = ?", (ftu,)) == [(first,)]
    _after(world, before, events)


def test_a_duplicated_file_transfer_uuid_in_the_same_round(make_world):
    world = make_world(rows=5)
    assert run_send(world.sender)[0].ok
    world.platform.wait_idle()
    [meta] = [n for n in world.platform.files(IKAST.lis_user, "IN") if n.endswith(".metadata")]
    good = (_inbox(world) / meta).read_bytes()
    ftu = good.split(b"<FileTransferUUID>")[1].split(b"<")[0].decode()
    data = b"payment_id;case_id\n1;2\n"
    name = "AAA_LIS_11111111_X06_20240101000000.csv"  # listed before the genuine one
    (_inbox(world) / name).write_bytes(data)
    (_inbox(world) / f"{name}.metadata").write_bytes(metadata(name, len(data), ftu))

    reports, events = run_receive(world.lis)

    loaded = database_rows(lis_database(world.lis))
    assert len(loaded) == 1  # one of the two, never a mix of one's metadata and the other's data
    [(loaded_name, loads)] = loaded.items()
    assert loads[0][0] == loads[0][1] == (1 if loaded_name == name else 5)
    assert len(events.of(Stray)) == 1


# -- the sender's side: receipts -----------------------------------------------------------------

BAD_RECEIPTS = {
    "malformed": b"<TechnicalReceipt><FileTransferUUID>",
    "invalid": f'<?xml version="1.0"?><ns2:TechnicalReceipt xmlns:ns2="{NS}"><Receipt/></ns2:TechnicalReceipt>'
               .encode(),
    "xxe": f'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY s SYSTEM "file:///etc/hostname">]>\n'
           f'<ns2:TechnicalReceipt xmlns:ns2="{NS}"><FileTransferUUID>&s;</FileTransferUUID>'
           f"<Receipt><Message>SUCCESS</Message></Receipt></ns2:TechnicalReceipt>".encode(),
}


@pytest.mark.parametrize("case", sorted(BAD_RECEIPTS))
def test_an_unreadable_receipt_is_reported_and_never_taken_for_a_verdict(make_world, case):
    """A receipt the agent cannot read says nothing about the delivery: the send stays open (no
    failure, no clean-up, no resend) until a readable receipt is there."""
    world = make_world(rows=5)
    world.platform.loop.call_soon_threadsafe(world.platform.platform.hold)  # the route waits, locked
    agent = Process(["--log-level", "INFO", "send", "--config", str(world.sender)],
                    world.sender.parent / "send.log").start()
    try:
        wait_for(lambda: peek(world.sender, "SELECT 1 FROM transfers WHERE state = 'trigger_uploaded'"))
        [data_name] = [n for n in world.platform.files(KY.user, "OUT") if n.endswith(".csv")]
        (world.platform.root / KY.user / "IN" / f"{data_name}.sftpreceipt").write_bytes(BAD_RECEIPTS[case])
        wait_for(lambda: "cannot be read" in agent.output(), timeout=20)
        assert states(world.sender, "send") == {"trigger_uploaded": 1}
    finally:
        world.platform.loop.call_soon_threadsafe(world.platform.platform.release)  # the real receipt comes
    assert agent.wait(60) == 0, agent.output()[-3000:]

    assert states(world.sender, "send") == {"delivered": 1}
    assert sf1630("send", "--config", str(world.sender)).returncode == 0  # nothing is sent again
    world.platform.wait_idle()
    assert sf1630("receive", "--config", str(world.lis)).returncode == 0
    world.assert_all_once(1)
