"""Common and older clients as senders: OpenSSH sftp, rclone (concurrent writes), paramiko 2.x (issue #12)."""

from __future__ import annotations

import base64
import os
import subprocess
import time
import warnings
from pathlib import Path

import pytest

from sf1630.documents.metadata import parse_metadata
from sf1630.documents.receipt import parse_receipt

from .conftest import AULA, DATA, KY, LIS1, needs, trigger_bytes

with warnings.catch_warnings():
    warnings.simplefilter("ignore")        # paramiko 2.x warns about TripleDES on import
    paramiko = pytest.importorskip("paramiko", reason="paramiko 2.x (test extra) is not installed")
PARAMIKO_2 = paramiko.__version__.startswith("2.")


def sftp_batch(running, key: Path, user: str, commands: str, *options: str, cwd: Path) -> subprocess.CompletedProcess:
    batch = cwd / "batch"
    batch.write_text(commands)
    args = ["sftp", "-b", str(batch), "-P", str(running.port), "-o", f"UserKnownHostsFile={running.known_hosts}",
            "-o", "StrictHostKeyChecking=yes", "-o", f"IdentityFile={key}", "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes", *options, f"{user}@127.0.0.1"]
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60)


@needs("sftp")
@pytest.mark.parametrize("options", [
    (),
    ("-o", "Ciphers=chacha20-poly1305@openssh.com"),
    ("-o", "Ciphers=aes256-ctr", "-o", "MACs=hmac-sha2-512"),
    ("-o", "Ciphers=aes192-ctr", "-o", "MACs=hmac-sha2-256-etm@openssh.com", "-o", "KexAlgorithms=ecdh-sha2-nistp256"),
], ids=["default", "chacha20", "aes256-ctr", "aes192-ctr-etm-nistp256"])
def test_openssh_sftp_sends_and_receives(platform, keys, tmp_path, options):
    data = os.urandom(3 << 20)
    (tmp_path / DATA).write_bytes(data)
    (tmp_path / f"{DATA}.trigger").write_bytes(trigger_bytes(DATA, len(data)))
    sent = sftp_batch(platform, keys[KY], KY, f"put {DATA} OUT/\nput {DATA}.trigger /OUT/\n", *options, cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    platform.wait_idle()

    fetch = tmp_path / "fetch"
    fetch.mkdir()
    got = sftp_batch(platform, keys[KY], KY, f"get IN/{DATA}.sftpreceipt\nrm IN/{DATA}.sftpreceipt\n", cwd=fetch)
    assert got.returncode == 0, got.stderr
    assert parse_receipt((fetch / f"{DATA}.sftpreceipt").read_bytes()).ok
    got = sftp_batch(platform, keys[LIS1], LIS1, f"get IN/{DATA}\nget IN/{DATA}.metadata\nrm IN/*\n", cwd=fetch)
    assert got.returncode == 0, got.stderr
    assert (fetch / DATA).read_bytes() == data
    assert parse_metadata((fetch / f"{DATA}.metadata").read_bytes()).descriptor.size_in_bytes == len(data)
    assert list(platform.inbox(LIS1).iterdir()) == []


@needs("rclone")
def test_rclone_with_concurrent_writes(make_platform, keys, tmp_path):
    """rclone's last WRITE carries trailing bytes; the server ignores them as OpenSSH's does."""
    running = make_platform(server={"settle_seconds": 1.0})     # rclone stats and sets the mtime after upload
    data = os.urandom((3 << 20) + 12345)
    (tmp_path / DATA).write_bytes(data)
    (tmp_path / f"{DATA}.trigger").write_bytes(trigger_bytes(DATA, len(data)))
    flags = ["--sftp-host", "127.0.0.1", "--sftp-port", str(running.port), "--sftp-user", KY,
             "--sftp-key-file", str(keys[KY]), "--sftp-known-hosts-file", str(running.known_hosts),
             "--sftp-shell-type", "none", "--retries", "1", "--low-level-retries", "1"]
    env = {**os.environ, "RCLONE_CONFIG": str(tmp_path / "rclone.conf")}
    for name in (DATA, f"{DATA}.trigger"):
        done = subprocess.run(["rclone", "copyto", str(tmp_path / name), f":sftp:OUT/{name}", *flags],
                              capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
    running.wait_idle()
    assert parse_receipt((running.inbox(KY) / f"{DATA}.sftpreceipt").read_bytes()).ok
    assert (running.inbox(LIS1) / DATA).read_bytes() == data


def paramiko_transport(running, kex: str, **kwargs) -> paramiko.Transport:
    t = paramiko.Transport(("127.0.0.1", running.port), **kwargs)
    opts = t.get_security_options()
    opts.ciphers, opts.digests, opts.kex = ("aes128-ctr",), ("hmac-sha2-256",), (kex,)
    return t


def host_key(running) -> paramiko.PKey:
    _, key_type, b64 = running.known_hosts.read_text().splitlines()[0].split()
    return paramiko.Ed25519Key(data=base64.b64decode(b64))


@pytest.mark.skipif(not PARAMIKO_2, reason="the older-client test needs paramiko 2.x")
@pytest.mark.parametrize("kex", ["curve25519-sha256@libssh.org", "ecdh-sha2-nistp256"])
def test_paramiko_2_client_with_ctr_and_rsa_key(make_platform, keys, tmp_path, kex):
    running = make_platform(server={"settle_seconds": 1.0})
    t = paramiko_transport(running, kex)
    t.connect(hostkey=host_key(running), username=AULA, pkey=paramiko.RSAKey.from_private_key_file(str(keys[AULA])))
    try:
        assert (t.local_cipher, t.local_mac) == ("aes128-ctr", "hmac-sha2-256")
        sftp = paramiko.SFTPClient.from_transport(t)
        data = b"elev;klasse\n" * 1000
        (tmp_path / DATA).write_bytes(data)
        (tmp_path / "t").write_bytes(trigger_bytes(DATA, len(data), sender=AULA))
        # put() stats each file right after closing it (confirm=True): the trigger must still be there.
        assert sftp.put(str(tmp_path / DATA), f"OUT/{DATA}").st_size == len(data)
        assert sftp.put(str(tmp_path / "t"), f"OUT/{DATA}.trigger").st_size == (tmp_path / "t").stat().st_size
        deadline = time.monotonic() + 10
        while f"{DATA}.sftpreceipt" not in sftp.listdir("IN"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with sftp.open(f"IN/{DATA}.sftpreceipt") as f:
            receipt = parse_receipt(f.read())
        assert receipt.ok and receipt.message == "SUCCESS"
    finally:
        t.close()


@pytest.mark.skipif(not PARAMIKO_2, reason="needs paramiko 2.x")
def test_sha1_rsa_signature_is_refused(platform, keys):
    t = paramiko_transport(platform, "curve25519-sha256@libssh.org",
                           disabled_algorithms={"pubkeys": ["rsa-sha2-512", "rsa-sha2-256"]})
    try:
        with pytest.raises(paramiko.AuthenticationException):
            t.connect(hostkey=host_key(platform), username=AULA,
                      pkey=paramiko.RSAKey.from_private_key_file(str(keys[AULA])))
    finally:
        t.close()


@pytest.mark.skipif(not PARAMIKO_2, reason="needs paramiko 2.x")
@pytest.mark.parametrize("field, value", [("ciphers", ("aes128-cbc",)), ("digests", ("hmac-sha1",)),
                                          ("kex", ("diffie-hellman-group14-sha1",))])
def test_cbc_sha1_mac_and_sha1_kex_are_not_offered(platform, field, value):
    t = paramiko.Transport(("127.0.0.1", platform.port))
    setattr(t.get_security_options(), field, value)
    try:
        with pytest.raises(paramiko.SSHException):
            t.connect(hostkey=host_key(platform))
    finally:
        t.close()


def test_many_requests_in_flight_on_one_session_each_get_their_own_answer(platform, connect):
    # The simulator serves whatever requests one read of the channel completes and answers them in
    # one write; a big READ answer among small ones must neither be lost nor overtake them.
    import asyncio

    import asyncssh

    client = connect(platform)
    big = os.urandom(900 * 1024)
    client.put("OUT/big.bin", big)
    for i in range(40):
        client.put(f"OUT/f{i}.csv", f"row {i}\n".encode() * (i + 1))

    async def burst():
        sftp = client.sftp
        stats = [sftp.stat(f"OUT/f{i}.csv") for i in range(40)]
        missing = [sftp.stat(f"OUT/none{i}.csv") for i in range(10)]
        async with sftp.open("OUT/big.bin", "rb") as f:
            return await asyncio.gather(f.read(), *stats, *missing, return_exceptions=True)

    data, *answers = platform.run(burst())
    assert data == big
    sizes, refusals = answers[:40], answers[40:]
    assert [a.size for a in sizes] == [len(f"row {i}\n") * (i + 1) for i in range(40)]
    assert all(isinstance(r, asyncssh.SFTPNoSuchFile) for r in refusals)
