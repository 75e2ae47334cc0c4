"""SIGKILL in the middle of a step, then a restart (issue #5).

tests/flows/test_crash.py kills the agent right after each journalled step with the crash hook.
Here the kill lands inside a step: the fault proxy holds the link still (or slows it down) so the
test can see the step under way -- a ``.part`` on the server, bytes of a download in the spool, a
load's transaction in the database -- and SIGKILL the ``sf1630`` process there. After a restart
every extract arrives exactly once with every row, nothing is left behind, and the journal shows
the steps in order.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from pathlib import Path

from sf1630.testing.faultproxy import wait_for

from .conftest import IKAST, KY, lis_database, run_send, sf1630
from .world import Process, stories

SEND_STORY = ["planned", "extracted", "data_uploaded", "trigger_uploaded", "delivered"]
RECEIVE_STORY = ["seen", "downloaded", "remote_deleted", "loaded"]


def _start(agent_toml: Path, command: str) -> Process:
    return Process(["--log-level", "INFO", command, "--config", str(agent_toml)],
                   agent_toml.parent / f"{command}.log").start()


def _state(agent_toml: Path, kind: str) -> list[str]:
    return [s[-1] for s in stories(agent_toml, kind).values()]


def _finish(world, *, send: bool = True, receive: bool = True) -> None:
    """Run the agents again without faults, as a restart would, and check the promise."""
    if send:
        again = sf1630("send", "--config", str(world.sender))
        assert again.returncode == 0, again.stdout + again.stderr
    world.platform.wait_idle()
    if receive:
        again = sf1630("receive", "--config", str(world.lis))
        assert again.returncode == 0, again.stdout + again.stderr
    world.assert_all_once(1)


def _out(world) -> list[str]:
    return world.platform.files(KY.user, "OUT")


def _part_of(name: str, kind: str) -> bool:
    """Is ``name`` an upload's temporary file of the data file (".csv") or of the trigger?"""
    return re.fullmatch(rf".*{re.escape(kind)}\.[0-9a-f]{{8}}\.part", name) is not None


# -- sending -------------------------------------------------------------------------------------

def test_killed_in_the_middle_of_the_data_upload(make_world):
    world = make_world(rows=5000)  # about 650 kB
    world.proxy.stall(after=200_000, direction="up")
    agent = _start(world.sender, "send")

    wait_for(lambda: world.proxy.faults["stall"] and any(_part_of(n, ".csv") for n in _out(world)))
    assert agent.kill() == -9
    assert _state(world.sender, "send") == ["extracted"]
    world.proxy.resume()

    _finish(world)
    assert list(stories(world.sender, "send").values()) == [SEND_STORY]


def test_killed_while_writing_the_trigger(make_world):
    world = make_world(rows=3)
    world.proxy.throttle(3000)  # a slow link: the trigger's .part lives long enough to be seen
    agent = _start(world.sender, "send")

    wait_for(lambda: any(_part_of(n, ".trigger") for n in _out(world)), timeout=60, every=0.002)
    assert agent.kill() == -9
    assert _state(world.sender, "send") == ["data_uploaded"]
    world.proxy.throttle(None)

    _finish(world)
    assert list(stories(world.sender, "send").values()) == [SEND_STORY]


def test_killed_while_waiting_for_the_receipt(make_world):
    world = make_world(rows=3)
    world.platform.loop.call_soon_threadsafe(world.platform.platform.hold)  # the route waits, locked
    agent = _start(world.sender, "send")

    wait_for(lambda: _state(world.sender, "send") == ["trigger_uploaded"])
    assert agent.kill() == -9
    world.platform.loop.call_soon_threadsafe(world.platform.platform.release)  # the receipt comes meanwhile
    world.platform.wait_idle()
    assert world.platform.files(KY.user, "IN") and _out(world) == []

    _finish(world)
    assert list(stories(world.sender, "send").values()) == [SEND_STORY]


# -- receiving -----------------------------------------------------------------------------------

def _delivered(world) -> str:
    summary, _ = run_send(world.sender)
    assert summary.ok
    world.platform.wait_idle()
    return summary.transfers[0].file_name


def test_killed_while_reading_the_metadata(make_world):
    world = make_world(rows=3)
    name = _delivered(world)
    metadata = world.platform.root / IKAST.lis_user / "IN" / f"{name}.metadata"
    # The same metadata with a long comment in it, so that reading it takes a while.
    padded = re.sub(rb"(<\?xml[^>]*\?>)", lambda m: m[1] + b"<!--" + b" " * 600_000 + b"-->", metadata.read_bytes())
    metadata.write_bytes(padded)
    world.proxy.stall(after=300_000, direction="down")
    agent = _start(world.lis, "receive")

    wait_for(lambda: world.proxy.faults["stall"])
    assert agent.kill() == -9
    assert _state(world.lis, "receive") == []  # nothing was claimed
    world.proxy.resume()

    _finish(world, send=False)
    assert list(stories(world.lis, "receive").values()) == [RECEIVE_STORY]


def test_killed_in_the_middle_of_the_download(make_world):
    world = make_world(rows=40_000)  # about 5 MB
    _delivered(world)
    world.proxy.stall(after=3_000_000, direction="down")
    agent = _start(world.lis, "receive")
    spool = world.lis.parent / "state" / "spool" / "in"

    # Under way: the proxy holds the rest back, and part of the file is in the spool.
    wait_for(lambda: world.proxy.faults["stall"] and [p for p in spool.rglob("*.part") if p.stat().st_size])
    assert agent.kill() == -9
    assert _state(world.lis, "receive") == ["seen"]
    world.proxy.resume()

    _finish(world, send=False)
    assert list(stories(world.lis, "receive").values()) == [RECEIVE_STORY]


def test_killed_in_the_middle_of_the_load(make_world):
    world = make_world(rows=60_000)
    name = _delivered(world)
    database = lis_database(world.lis)
    wal = database.with_name(database.name + "-wal")
    agent = _start(world.lis, "receive")

    # The load is one transaction; once it spills pages into the WAL it is well under way.
    wait_for(lambda: wal.exists() and wal.stat().st_size > 1_000_000, timeout=60)
    assert agent.kill() == -9
    assert _state(world.lis, "receive") == ["remote_deleted"]
    with sqlite3.connect(database) as db:  # nothing of an unfinished load is visible
        assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'deliveries'").fetchone()[0] == 0 or \
            db.execute("SELECT count(*) FROM deliveries WHERE file_name = ?", (name,)).fetchone()[0] == 0

    _finish(world, send=False)
    assert list(stories(world.lis, "receive").values()) == [RECEIVE_STORY]


def test_killed_between_deleting_the_data_file_and_its_metadata(make_world):
    world = make_world(rows=3)
    name = _delivered(world)
    inbox = world.platform.root / IKAST.lis_user / "IN"
    world.proxy.throttle(3000)  # each delete takes a while
    agent = _start(world.lis, "receive")

    wait_for(lambda: not (inbox / name).exists() and (inbox / f"{name}.metadata").exists(), timeout=60,
             every=0.002)
    assert agent.kill() == -9
    assert _state(world.lis, "receive") == ["downloaded"]
    world.proxy.throttle(None)

    _finish(world, send=False)
    assert list(stories(world.lis, "receive").values()) == [RECEIVE_STORY]


def test_a_request_of_a_killed_agent_served_late_cannot_spoil_the_next_upload(make_world, monkeypatch):
    """A request a killed agent sent can be served after the restarted agent began the same upload on
    another connection (TCP orders one connection, not two). Here the killed agent's request to open
    its temporary file for writing is served between the new agent's size check and its rename.
    Sharing one temporary name, it emptied the new upload's file, and the platform refused the
    trigger (SIZE_MISMATCH): a delivered send marked failed. The soak found it."""
    from sf1630.simulator.sftp import UserFiles

    world = make_world(rows=300)
    opened, renamed = UserFiles.open, UserFiles.posix_rename
    late, served = threading.Event(), threading.Event()

    def open_late_once(self, path: bytes, pflags: int, attrs):
        if path.endswith(b".part") and b".csv" in path and b"trigger" not in path and not late.is_set():
            late.set()  # the first agent's open: held until the second agent is about to rename

            async def later():
                await asyncio.to_thread(served.wait, 60)
                return opened(self, path, pflags, attrs)
            return later()
        return opened(self, path, pflags, attrs)

    def rename_after_the_late_open(self, old: bytes, new: bytes):
        if new.endswith(b".csv") and late.is_set() and not served.is_set():
            served.set()

            async def later():
                await asyncio.sleep(0.5)
                return renamed(self, old, new)
            return later()
        return renamed(self, old, new)

    monkeypatch.setattr(UserFiles, "open", open_late_once)
    monkeypatch.setattr(UserFiles, "posix_rename", rename_after_the_late_open)
    first = _start(world.sender, "send")
    assert late.wait(30)
    world.proxy.hold_links()  # its connection stays open towards the server: the open is still served
    assert first.kill() == -9

    again = sf1630("send", "--config", str(world.sender))
    assert again.returncode == 0, again.stdout + again.stderr
    assert served.is_set()  # the late open made a file of its own name, which the round's sweep removed
    _finish(world)
    assert list(stories(world.sender, "send").values()) == [SEND_STORY]
