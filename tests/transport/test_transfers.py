"""Uploads, downloads and file operations against a real sshd."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from sf1630.errors import RemoteMissing, RemoteRefused, TransportError
from sf1630.transport.sftp import Credentials, Endpoint, connect


@pytest.fixture
def local(tmp_path: Path) -> Path:
    """An empty local folder (the sshd fixture keeps its files beside it)."""
    (tmp_path / "local").mkdir()
    return tmp_path / "local"


def run(site, body):
    """Run ``body(session)`` on a fresh session to ``site``."""
    async def go():
        async with await connect(site.endpoint, site.credentials, timeout=10) as s:
            return await body(s)
    return asyncio.run(go())


@pytest.mark.parametrize("size", [0, 1, 3 * 1024 * 1024 + 17])
@pytest.mark.parametrize("name", ["data.csv", "KY_LIS_æøå_ÆØÅ.csv"])
def test_round_trip_keeps_content(sshd, local, size, name):
    payload = os.urandom(size)
    (local / "src").write_bytes(payload)
    (sshd.home / "OUT").mkdir()

    async def body(s):
        sent = await s.upload(local / "src", f"OUT/{name}")
        got = await s.download(f"OUT/{name}", local / name, expected_size=size)
        return sent, got, await s.stat(f"OUT/{name}"), await s.listdir("OUT")

    sent, got, st, listing = run(sshd, body)
    assert sent == got == size
    assert (local / name).read_bytes() == payload
    assert (sshd.home / "OUT" / name).read_bytes() == payload
    assert st.name == name and st.size == size
    assert [f.name for f in listing] == [name]  # no .part left behind
    assert sorted(p.name for p in local.iterdir()) == sorted(["src", name])  # no local temp file


def test_upload_writes_part_file_then_renames(sshd, local):
    (local / "src").write_bytes(os.urandom(2 * 1024 * 1024))
    seen = []

    def progress(done: int) -> None:
        seen.append(((sshd.home / "x.csv.part").exists(), (sshd.home / "x.csv").exists(), done))

    run(sshd, lambda s: s.upload(local / "src", "x.csv", progress=progress))
    assert seen[0][:2] == (True, False)  # in flight under the .part name only
    assert seen[-1][2] == 2 * 1024 * 1024
    assert not (sshd.home / "x.csv.part").exists() and (sshd.home / "x.csv").exists()


def test_failed_upload_leaves_no_part_and_keeps_the_old_file(sshd, local):
    (sshd.home / "x.csv").write_bytes(b"old")
    (local / "src").write_bytes(os.urandom(4 * 1024 * 1024))

    def progress(done: int) -> None:
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError):
        run(sshd, lambda s: s.upload(local / "src", "x.csv", progress=progress))
    assert sorted(p.name for p in sshd.home.iterdir()) == ["x.csv"]
    assert (sshd.home / "x.csv").read_bytes() == b"old"


def test_write_and_read_bytes(sshd):
    async def body(s):
        await s.write_bytes("t.trigger", "<Trigger>æ</Trigger>".encode())
        return await s.read_bytes("t.trigger")

    assert run(sshd, body) == "<Trigger>æ</Trigger>".encode()
    assert sorted(p.name for p in sshd.home.iterdir()) == ["t.trigger"]


def test_read_bytes_refuses_a_big_file(sshd):
    (sshd.home / "big").write_bytes(b"x" * 2000)
    with pytest.raises(TransportError, match="larger than 1000 bytes"):
        run(sshd, lambda s: s.read_bytes("big", max_bytes=1000))


@pytest.mark.parametrize("size", [255 * 1024, 700 * 1024 + 3, 1 << 20])
def test_read_bytes_reads_a_document_of_several_blocks_whole(sshd, size):
    # Documents are read one block at a time to their end: one over a block comes back whole,
    # and one of exactly max_bytes is not mistaken for a bigger one.
    payload = os.urandom(size)
    (sshd.home / "doc").write_bytes(payload)
    assert run(sshd, lambda s: s.read_bytes("doc", max_bytes=1 << 20)) == payload


@pytest.mark.parametrize("listed", [0, 100, 1500, 4000])
def test_read_bytes_with_the_listed_size_reads_the_file_whole(sshd, listed):
    # The listed size only spares the READ that says "end of file": a stale size (smaller, or
    # bigger after the file shrank) still gives what the file holds.
    payload = os.urandom(1500)
    (sshd.home / "doc").write_bytes(payload)
    assert run(sshd, lambda s: s.read_bytes("doc", listed=listed)) == payload


@pytest.mark.parametrize("listed", [None, 5])  # the server's size asked of the open file, or from a listing
def test_download_size_mismatch_leaves_nothing_locally(sshd, local, listed):
    (sshd.home / "d.csv").write_bytes(b"12345")
    (local / "out").mkdir()
    with pytest.raises(TransportError, match="has 5 bytes, expected 6"):
        run(sshd, lambda s: s.download("d.csv", local / "out" / "d.csv", expected_size=6, listed=listed))
    assert list((local / "out").iterdir()) == []


def test_download_with_a_stale_listed_size_leaves_nothing_locally(sshd, local):
    # A listing that promised the expected size does not make a shorter file pass.
    (sshd.home / "d.csv").write_bytes(b"12345")
    (local / "out").mkdir()
    with pytest.raises(TransportError, match="got 5 of 6 bytes"):
        run(sshd, lambda s: s.download("d.csv", local / "out" / "d.csv", expected_size=6, listed=6))
    assert list((local / "out").iterdir()) == []


def test_download_with_the_listed_size_keeps_content(sshd, local):
    payload = os.urandom(3 * 1024 * 1024 + 17)  # several READs in flight
    (sshd.home / "d.csv").write_bytes(payload)

    async def body(s):
        listed = {f.name: f.size for f in await s.listdir(".")}
        return await s.download("d.csv", local / "d.csv", expected_size=len(payload), listed=listed["d.csv"])

    assert run(sshd, body) == len(payload)
    assert (local / "d.csv").read_bytes() == payload


def test_missing_remote_file(sshd, local):
    async def body(s):
        assert await s.stat("nope.csv") is None
        assert await s.remove("nope.csv") is False
        with pytest.raises(RemoteMissing, match="nope.csv"):
            await s.remove("nope.csv", missing_ok=False)
        with pytest.raises(RemoteMissing, match="no such file"):
            await s.download("nope.csv", local / "nope.csv")
        with pytest.raises(RemoteMissing):
            await s.upload(local / "src", "NO_SUCH_DIR/x.csv")

    (local / "src").write_bytes(b"x")
    run(sshd, body)
    assert sorted(p.name for p in local.iterdir()) == ["src"]


def test_rename_remove_listdir_stat(sshd):
    (sshd.home / "IN").mkdir()
    (sshd.home / "IN" / "sub").mkdir()
    for name, data in [("b.csv", b"bb"), ("a.csv", b"a")]:
        (sshd.home / "IN" / name).write_bytes(data)
        os.utime(sshd.home / "IN" / name, (1_600_000_000, 1_600_000_000))

    async def body(s):
        listing = await s.listdir("IN")
        await s.rename("IN/a.csv", "IN/c.csv")
        with pytest.raises(TransportError):
            await s.rename("IN/b.csv", "IN/c.csv")  # plain rename does not overwrite
        await s.rename("IN/b.csv", "IN/c.csv", replace=True)
        removed = await s.remove("IN/c.csv")
        return listing, removed, await s.listdir("IN")

    listing, removed, after = run(sshd, body)
    assert [(f.name, f.size) for f in listing] == [("a.csv", 1), ("b.csv", 2)]  # files only, sorted
    assert listing[0].mtime == 1_600_000_000
    assert removed is True and after == []


def test_refusal_keeps_the_servers_message(make_sshd, keys, tmp_path, local):
    home = tmp_path / "ro" / "home"
    server = make_sshd("ro", sftp_server=f"internal-sftp -R -d {home}")  # read-only: writes refused
    endpoint = Endpoint(server.host, server.port, server.write_known_hosts(tmp_path / "kh"))
    (local / "src").write_bytes(b"data")

    async def go():
        async with await connect(endpoint, Credentials(server.user, (keys["ed25519"],))) as s:
            await s.upload(local / "src", "x.csv")

    with pytest.raises(RemoteRefused) as info:
        asyncio.run(go())
    assert "x.csv.part" in str(info.value) and "refused: Permission denied" in str(info.value)
    assert list(home.iterdir()) == []


def test_ten_transfers_at_once_over_one_connection(sshd, local):
    payloads = {f"f{i}.csv": os.urandom(300_000 + i) for i in range(10)}
    for name, data in payloads.items():
        (local / name).write_bytes(data)
    (local / "back").mkdir()

    async def body(s):
        await asyncio.gather(*(s.upload(local / n, n) for n in payloads))
        await asyncio.gather(*(s.download(n, local / "back" / n) for n in payloads))
        return len(sshd.server.session_pids())

    processes = run(sshd, body)
    for name, data in payloads.items():
        assert (sshd.home / name).read_bytes() == data
        assert (local / "back" / name).read_bytes() == data
    assert processes <= 3  # one connection: sshd's monitor and session processes
