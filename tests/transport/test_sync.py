"""The blocking facade plugins use."""

from __future__ import annotations

import os
import threading

import pytest

from sf1630.errors import HostKeyError, RemoteMissing
from sf1630.transport.sync import SyncSession


def test_sync_session_round_trip(sshd, tmp_path, keys):
    payload = os.urandom(1_000_003)
    (tmp_path / "src.csv").write_bytes(payload)
    (sshd.home / "OUT").mkdir()
    progress: list[int] = []
    with SyncSession(sshd.endpoint, sshd.credentials) as s:
        assert s.key_used == keys["ed25519"] and s.user == sshd.credentials.user
        assert s.upload(tmp_path / "src.csv", "OUT/a.csv", progress=progress.append) == len(payload)
        s.write_bytes("OUT/a.csv.trigger", b"<t/>")
        assert [f.name for f in s.listdir("OUT")] == ["a.csv", "a.csv.trigger"]
        assert s.stat("OUT/a.csv").size == len(payload)
        assert s.read_bytes("OUT/a.csv.trigger") == b"<t/>"
        assert s.download("OUT/a.csv", tmp_path / "back.csv", expected_size=len(payload)) == len(payload)
        s.rename("OUT/a.csv", "OUT/b.csv")
        assert s.remove("OUT/b.csv") is True
        with pytest.raises(RemoteMissing):
            s.remove("OUT/b.csv", missing_ok=False)
    assert s.closed
    assert progress[-1] == len(payload)
    assert (tmp_path / "back.csv").read_bytes() == payload
    assert sorted(p.name for p in (sshd.home / "OUT").iterdir()) == ["a.csv.trigger"]


def test_sync_session_failure_stops_its_thread(sshd, tmp_path):
    before = threading.active_count()
    (tmp_path / "kh").write_text("")
    with pytest.raises(HostKeyError):
        SyncSession(type(sshd.endpoint)(sshd.endpoint.host, sshd.endpoint.port, tmp_path / "kh"),
                    sshd.credentials)
    assert threading.active_count() == before
