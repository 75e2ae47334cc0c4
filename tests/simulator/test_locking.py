"""Rule 2 (locking and blocked names) and the settle time of issue #12."""

from __future__ import annotations

import time

import asyncssh
import pytest

from sf1630.documents.receipt import parse_receipt

from .conftest import DATA, KY, LIS1, send, trigger_bytes

TRIGGER = DATA + ".trigger"


def wait_until(check, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_locked_pair_refuses_write_rename_delete_and_a_second_trigger(platform, connect):
    client = connect(platform, KY)
    platform.call(platform.platform.hold)
    send(client, b"abc")
    wait_until(lambda: platform.locked(KY, DATA) and platform.locked(KY, TRIGGER))

    attempts = {
        "write data": lambda: client.put(f"OUT/{DATA}", b"other"),
        "truncate data": lambda: client.setstat(f"OUT/{DATA}", asyncssh.SFTPAttrs(size=0)),
        "delete data": lambda: client.remove(f"OUT/{DATA}"),
        "rename data": lambda: client.rename(f"OUT/{DATA}", "OUT/elsewhere.csv"),
        "rewrite trigger": lambda: client.put(f"OUT/{TRIGGER}", trigger_bytes(DATA, 3)),
        "delete trigger": lambda: client.remove(f"OUT/{TRIGGER}"),
        "rename trigger": lambda: client.rename(f"OUT/{TRIGGER}", "OUT/x.trigger"),
    }
    for what, attempt in attempts.items():
        with pytest.raises(asyncssh.SFTPPermissionDenied, match="being processed"):
            attempt()
    # A second trigger under the same name, uploaded the atomic way: the rename is refused.
    client.put(f"OUT/{TRIGGER}.part", trigger_bytes(DATA, 3))
    for rename in (client.rename, client.posix_rename):
        with pytest.raises(asyncssh.SFTPPermissionDenied, match="being processed"):
            rename(f"OUT/{TRIGGER}.part", f"OUT/{TRIGGER}")
    assert client.get(f"OUT/{DATA}") == b"abc"            # reading is fine
    assert client.stat(f"OUT/{TRIGGER}").size > 0

    platform.call(platform.platform.release)
    platform.wait_idle()
    assert sorted(p.name for p in platform.inbox(KY).iterdir()) == [DATA + ".sftpreceipt"]   # no receipt for refusals
    assert parse_receipt((platform.inbox(KY) / f"{DATA}.sftpreceipt").read_bytes()).ok
    assert (platform.inbox(LIS1) / DATA).read_bytes() == b"abc"
    # Processing is over: the same names are free again.
    client.remove(f"OUT/{TRIGGER}.part")
    send(client, b"abcd")
    platform.wait_idle()
    assert (platform.inbox(LIS1) / DATA).read_bytes() == b"abcd"


def test_other_names_are_not_locked(platform, connect):
    client = connect(platform, KY)
    platform.call(platform.platform.hold)
    send(client, b"abc")
    wait_until(lambda: platform.locked(KY, DATA))
    client.put("OUT/another.csv", b"free")
    assert client.get("OUT/another.csv") == b"free"
    client.rename("OUT/another.csv", "OUT/renamed.csv")
    client.remove("OUT/renamed.csv")
    assert platform.locked(KY, DATA)  # the held pair stays locked meanwhile
    platform.call(platform.platform.release)
    platform.wait_idle()
    assert (platform.inbox(LIS1) / DATA).read_bytes() == b"abc"


def test_closed_trigger_stays_visible_for_the_settle_time(make_platform, connect):
    running = make_platform(server={"settle_seconds": 1.0})
    client = connect(running, KY)
    send(client, b"abc")
    # An older client stats both files right after closing them (PROTOCOL.md, "Older clients").
    assert client.stat(f"OUT/{DATA}").size == 3
    assert client.stat(f"OUT/{TRIGGER}").size == len(trigger_bytes(DATA, 3))
    assert not running.locked(KY, TRIGGER)
    running.wait_idle()
    assert not (running.outbox(KY) / TRIGGER).exists()
    assert parse_receipt((running.inbox(KY) / f"{DATA}.sftpreceipt").read_bytes()).ok


def test_rewriting_a_settling_trigger_restarts_the_wait(make_platform, connect):
    running = make_platform(server={"settle_seconds": 1.0})
    client = connect(running, KY)
    client.put(f"OUT/{DATA}", b"abc")
    client.put(f"OUT/{TRIGGER}", trigger_bytes(DATA, 999))       # wrong size, corrected below
    time.sleep(0.6)
    client.put(f"OUT/{TRIGGER}", trigger_bytes(DATA, 3))
    time.sleep(0.6)                                                 # 1.2 s after the first close
    assert (running.outbox(KY) / TRIGGER).exists()
    running.wait_idle()
    assert parse_receipt((running.inbox(KY) / f"{DATA}.sftpreceipt").read_bytes()).ok


def test_trigger_open_for_writing_is_not_taken(platform, connect):
    client = connect(platform, KY)
    client.put(f"OUT/{DATA}", b"abc")

    async def slow_trigger() -> bool:
        async with client.sftp.open(f"OUT/{TRIGGER}", "wb") as f:
            await f.write(trigger_bytes(DATA, 3)[:40])
            platform.platform.router.scan()             # a periodic scan while the client still writes
            taken = platform.platform.router.locked(KY, TRIGGER)
            await f.write(trigger_bytes(DATA, 3)[40:])
        return taken
    assert platform.run(slow_trigger()) is False
    platform.wait_idle()
    assert parse_receipt((platform.inbox(KY) / f"{DATA}.sftpreceipt").read_bytes()).ok
