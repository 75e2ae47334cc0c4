"""The transfer speed-ups (issue #9) keep every byte intact, also across key exchanges."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from pathlib import Path

import pytest

from sf1630.transport.sftp import Credentials, Endpoint, Tuning, connect

ALL = {"no_ignore", "quiet_packets", "coalesce_writes", "allocator", "lean_writes", "lean_reads", "big_packets"}


def _file(path: Path, size: int) -> str:
    path.write_bytes(os.urandom(size))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _round_trip(endpoint: Endpoint, creds: Credentials, src: Path, back: Path, tuning: Tuning | None = None):
    async def go():
        async with await connect(endpoint, creds, timeout=10, tuning=tuning) as s:
            sent = await asyncio.gather(*(s.upload(src, f"copy{i}.bin") for i in range(3)))
            await s.download("copy1.bin", back)
            return s.speedups, s.cipher, sent
    return asyncio.run(go())


def test_speedups_on_by_default_and_content_intact(sshd, tmp_path):
    digest = _file(tmp_path / "src.bin", 5 * 1024 * 1024 + 3)
    applied, cipher, sent = _round_trip(sshd.endpoint, sshd.credentials, tmp_path / "src.bin", tmp_path / "back")
    assert set(applied) == ALL and cipher == "aes128-gcm@openssh.com"
    assert sent == [5 * 1024 * 1024 + 3] * 3
    for name in ("copy0.bin", "copy1.bin", "copy2.bin"):
        assert hashlib.sha256((sshd.home / name).read_bytes()).hexdigest() == digest
    assert hashlib.sha256((tmp_path / "back").read_bytes()).hexdigest() == digest


def test_key_exchanges_during_an_upload(make_sshd, keys, tmp_path, caplog):
    server = make_sshd(extra_config="RekeyLimit 1M\n")  # the server asks for new keys every MB
    endpoint = Endpoint(server.host, server.port, server.write_known_hosts(tmp_path / "kh"))
    digest = _file(tmp_path / "src.bin", 6 * 1024 * 1024)
    with caplog.at_level(logging.DEBUG, logger="asyncssh"):
        applied, _, _ = _round_trip(endpoint, Credentials(server.user, (keys["ed25519"],)),
                                    tmp_path / "src.bin", tmp_path / "back")
    assert {"lean_writes", "lean_reads"} <= set(applied)
    assert sum("Completed key exchange" in r.getMessage() for r in caplog.records) >= 10
    for name in ("copy0.bin", "copy1.bin", "copy2.bin"):
        assert hashlib.sha256((server.home / name).read_bytes()).hexdigest() == digest
    assert hashlib.sha256((tmp_path / "back").read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("how", ["env", "tuning"])
def test_plain_asyncssh_on_request(sshd, tmp_path, monkeypatch, how):
    tuning = None
    if how == "env":
        monkeypatch.setenv("SF1630_PLAIN_SSH", "1")
    else:
        tuning = Tuning(speedups=False)
    digest = _file(tmp_path / "src.bin", 1024 * 1024)
    applied, _, _ = _round_trip(sshd.endpoint, sshd.credentials, tmp_path / "src.bin", tmp_path / "back", tuning)
    assert applied == ()
    assert hashlib.sha256((sshd.home / "copy2.bin").read_bytes()).hexdigest() == digest


def test_speedups_are_off_for_an_untested_asyncssh(monkeypatch):
    """A newer asyncssh may change the internals the speed-ups use: it runs plain until tested."""
    import asyncssh

    from sf1630.transport import speedups

    monkeypatch.setattr(asyncssh, "__version__", "9.0.0")
    assert speedups.enabled() is False and speedups.enabled("no_ignore") is False
    monkeypatch.setattr(asyncssh, "__version__", "2.24.1")
    monkeypatch.delenv("SF1630_PLAIN_SSH", raising=False)
    monkeypatch.delenv("SF1630_SSH_STEPS", raising=False)
    assert speedups.enabled() is True
