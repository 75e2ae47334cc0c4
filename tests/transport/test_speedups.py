"""The transfer speed-ups (issue #9) keep every byte intact, also across key exchanges."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from pathlib import Path

import pytest

from sf1630.transport.sftp import Credentials, Endpoint, Tuning, connect

ALL = {"no_ignore", "quiet_packets", "coalesce_writes", "allocator", "lean_writes", "lean_reads", "big_packets",
       "quiet_sftp", "direct_auth", "lean_replies"}


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
    import asyncssh

    from sf1630.transport.speedups import TESTED_ASYNCSSH

    assert asyncssh.__version__ in TESTED_ASYNCSSH, "the speed-ups are off for an untested asyncssh"
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
    assert any("Sending open for" in r.getMessage() for r in caplog.records)  # quiet_sftp: still logged at DEBUG
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

    for untested in ("9.0.0", "2.24.0", "2.24.10"):  # 2.24.0 lacks what lean_reads relies on
        monkeypatch.setattr(asyncssh, "__version__", untested)
        assert speedups.enabled() is False and speedups.enabled("no_ignore") is False
    monkeypatch.setattr(asyncssh, "__version__", "2.24.1")
    monkeypatch.delenv("SF1630_PLAIN_SSH", raising=False)
    monkeypatch.delenv("SF1630_SSH_STEPS", raising=False)
    assert speedups.enabled() is True


def test_an_untested_asyncssh_is_said_once_and_runs_plain(sshd, tmp_path, monkeypatch, caplog):
    import asyncssh

    from sf1630.transport import speedups

    monkeypatch.setattr(asyncssh, "__version__", "2.24.0")
    monkeypatch.setattr(speedups, "_untested_said", False)
    digest = _file(tmp_path / "src.bin", 1024 * 1024)
    with caplog.at_level(logging.INFO, logger="sf1630.transport.speedups"):
        for _ in range(2):
            applied, _, _ = _round_trip(sshd.endpoint, sshd.credentials, tmp_path / "src.bin", tmp_path / "back")
            assert applied == ()
    said = [r.getMessage() for r in caplog.records if r.name == "sf1630.transport.speedups"]
    assert said == ["asyncssh 2.24.0: transfer speed-ups off (tested with 2.24.1 only); transfers run plain asyncssh"]
    assert hashlib.sha256((tmp_path / "back").read_bytes()).hexdigest() == digest


def test_speedups_name_only_what_runs_under_the_negotiated_cipher(make_sshd, keys, tmp_path):
    """The lean paths take AES-GCM packets only: under ChaCha20 they are not attached nor reported."""
    server = make_sshd(extra_config="Ciphers chacha20-poly1305@openssh.com\n")
    endpoint = Endpoint(server.host, server.port, server.write_known_hosts(tmp_path / "kh"))
    digest = _file(tmp_path / "src.bin", 3 * 1024 * 1024 + 5)
    applied, cipher, _ = _round_trip(endpoint, Credentials(server.user, (keys["ed25519"],)),
                                     tmp_path / "src.bin", tmp_path / "back")
    assert cipher == "chacha20-poly1305@openssh.com"
    assert set(applied) == ALL - {"lean_writes", "lean_reads"}
    for name in ("copy0.bin", "copy1.bin", "copy2.bin"):
        assert hashlib.sha256((server.home / name).read_bytes()).hexdigest() == digest
    assert hashlib.sha256((tmp_path / "back").read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("plain", [False, True])
def test_login_is_one_signed_request_and_a_refused_key_still_passes_to_the_next(make_sshd, keys, tmp_path,
                                                                               monkeypatch, plain):
    """direct_auth: sshd sees the signed request at once (no "Postponed" query); a key it refuses is a
    failure and the next key logs in. Plain asyncssh asks first, as before."""
    if plain:
        monkeypatch.setenv("SF1630_PLAIN_SSH", "1")
    server = make_sshd()
    endpoint = Endpoint(server.host, server.port, server.write_known_hosts(tmp_path / "kh"))

    async def login(*names: str) -> tuple[tuple[str, ...], str]:
        async with await connect(endpoint, Credentials(server.user, tuple(keys[n] for n in names)), timeout=10) as s:
            await s.listdir(".")  # the session answers once logged in
            return s.speedups, s.key_used.name

    applied, used = asyncio.run(login("ed25519"))
    refused_first = asyncio.run(login("stranger", "ed25519"))
    assert ("direct_auth" in applied) is not plain
    assert used == refused_first[1] == "id_ed25519"
    lines = [line for line in server.log.read_text().splitlines() if "publickey for" in line]
    assert sum(line.startswith("Accepted publickey") for line in lines) == 2
    assert sum(line.startswith("Failed publickey") for line in lines) == 1  # the stranger, refused
    assert sum(line.startswith("Postponed publickey") for line in lines) == (2 if plain else 0)


def test_answers_reach_their_requests_however_they_arrive(sshd, tmp_path):
    """lean_replies: many answers in one channel packet and one answer over many (sshd's 32 KiB
    packets, 255 KiB READ answers) each reach the request that asked, in any order of completion."""
    digest = _file(tmp_path / "big.bin", 3 * 1024 * 1024 + 11)
    for i in range(40):
        (sshd.home / f"doc{i}.xml").write_bytes(f"<doc n='{i}'/>".encode() * (i + 1))

    async def go():
        async with await connect(sshd.endpoint, sshd.credentials, timeout=10) as s:
            assert "lean_replies" in s.speedups
            up = asyncio.create_task(s.upload(tmp_path / "big.bin", "up.bin"))
            stats = await asyncio.gather(*(s.stat(f"doc{i}.xml") for i in range(40)), s.stat("none.xml"))
            docs = await asyncio.gather(*(s.read_bytes(f"doc{i}.xml") for i in range(40)))
            await up
            await s.download("up.bin", tmp_path / "back.bin")
            return stats, docs
    stats, docs = asyncio.run(go())
    assert [f.size for f in stats[:40]] == [len(f"<doc n='{i}'/>") * (i + 1) for i in range(40)]
    assert stats[40] is None
    assert docs == [f"<doc n='{i}'/>".encode() * (i + 1) for i in range(40)]
    assert hashlib.sha256((tmp_path / "back.bin").read_bytes()).hexdigest() == digest


def test_a_malformed_answer_fails_what_waits_and_ends_the_session(sshd, monkeypatch):
    """An answer to no request (a server's bug) ends the session as asyncssh's own reader would:
    the request waiting fails with a transport error instead of waiting for ever."""
    from sf1630.errors import TransportError
    from sf1630.transport import fastreply

    seen: list[fastreply.LeanReplies] = []
    attach = fastreply.LeanReplies.attach
    monkeypatch.setattr(fastreply.LeanReplies, "attach", lambda sftp: seen.append(attach(sftp)) or seen[-1])

    async def go():
        async with await connect(sshd.endpoint, sshd.credentials, timeout=10) as s:
            waiting = asyncio.create_task(s.stat("."))
            await asyncio.sleep(0)  # the STAT is sent; its answer comes later
            seen[0].data_received(b"\0\0\0\x05\x65\xff\xff\xff\xf0", None)  # STATUS for id 0xfffffff0
            with pytest.raises(TransportError, match="Invalid response id"):
                await waiting
            with pytest.raises(TransportError):
                await s.stat(".")
    asyncio.run(go())


def test_packet_dumps_still_show_the_answers(sshd, caplog):
    """With asyncssh's packet dumps asked for (debug level 3) the answers are logged as before."""
    import asyncssh

    async def go():
        async with await connect(sshd.endpoint, sshd.credentials, timeout=10) as s:
            await s.stat(".")
    asyncssh.set_debug_level(3)
    try:
        with caplog.at_level(logging.DEBUG, logger="asyncssh"):
            asyncio.run(go())
    finally:
        asyncssh.set_debug_level(1)
    assert any("Received FXP_ATTRS (105)" in r.getMessage() for r in caplog.records), "no dump of the answer"
