"""Dropped connections, stalls, reconnects through the pool."""

from __future__ import annotations

import asyncio
import io
import os
import signal
from dataclasses import replace
from pathlib import Path

import pytest

from sf1630.errors import TransportError
from sf1630.transport import pipeline
from sf1630.transport.pool import Pool
from sf1630.transport.sftp import Tuning, connect

BIG = 24 * 1024 * 1024


@pytest.fixture
def big(tmp_path: Path) -> Path:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(BIG))
    return path


def test_drop_during_upload_raises_transport_error_then_pool_reconnects(sshd, big):
    async def go():
        async with Pool() as pool:
            with pytest.raises(TransportError):
                async with pool.session(sshd.endpoint, sshd.credentials) as s:
                    await s.upload(big, "big.bin", progress=lambda done: sshd.server.kill_sessions())
            assert s.closed
            sshd.server.stop()
            sshd.server.start()  # same port, same host key
            async with pool.session(sshd.endpoint, sshd.credentials) as s2:
                assert s2 is not s
                await s2.write_bytes("after.txt", b"ok")
            return pool.connections()

    assert asyncio.run(go()) == 1
    assert (sshd.home / "after.txt").read_bytes() == b"ok"
    assert not (sshd.home / "big.bin").exists()


def test_drop_during_download_leaves_no_local_file(sshd, big, tmp_path):
    os.link(big, sshd.home / "big.bin")
    (tmp_path / "in").mkdir()

    async def go():
        async with await connect(sshd.endpoint, sshd.credentials) as s:
            await s.download("big.bin", tmp_path / "in" / "big.bin",
                             progress=lambda done: sshd.server.kill_sessions())

    with pytest.raises(TransportError, match="big.bin"):
        asyncio.run(go())
    assert list((tmp_path / "in").iterdir()) == []


def test_a_stalled_transfer_times_out(sshd, big, tmp_path):
    """A server that stops answering fails the transfer after the stall timeout, not never."""
    os.link(big, sshd.home / "big.bin")
    frozen: list[int] = []

    def freeze(done: int) -> None:
        if not frozen:
            frozen.extend(sshd.server.session_pids())
            for pid in frozen:
                os.kill(pid, signal.SIGSTOP)

    async def go():
        tuning = Tuning(stall_timeout=1.0, op_timeout=1.0)
        s = await connect(sshd.endpoint, sshd.credentials, tuning=tuning)
        try:
            await s.download("big.bin", tmp_path / "copy.bin", progress=freeze)
        finally:
            s._conn.abort()

    try:
        with pytest.raises(TransportError, match="stalled|no answer"):
            asyncio.run(asyncio.wait_for(go(), 20))
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    assert not (tmp_path / "copy.bin").exists()


def test_a_stalled_one_request_upload_times_out(sshd):
    """A file sent in one WRITE (triggers, small extracts) fails after the stall timeout too."""
    frozen: list[int] = []

    async def go():
        s = await connect(sshd.endpoint, sshd.credentials, tuning=Tuning(op_timeout=1.0))
        rf = await s._sftp.open("small.part", "wb", block_size=0)
        frozen.extend(sshd.server.session_pids())
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        try:
            await pipeline.push(rf, io.BytesIO(b"x" * 1000), block=4096, depth=4, stall=0.5, what="upload small")
        finally:
            s._conn.abort()

    try:
        with pytest.raises(TransportError, match="upload small: the transfer stalled"):
            asyncio.run(asyncio.wait_for(go(), 20))
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)


def test_control_operation_timeout(sshd):
    """A stat to a frozen server fails after op_timeout with a clear message."""
    frozen: list[int] = []

    async def go():
        s = await connect(sshd.endpoint, sshd.credentials, tuning=Tuning(op_timeout=0.5))
        frozen.extend(sshd.server.session_pids())
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        try:
            await s.stat("x")
        finally:
            s._conn.abort()

    try:
        with pytest.raises(TransportError, match="no answer from the server within 0.5 s"):
            asyncio.run(go())
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)


def test_connect_to_a_closed_port_is_a_transport_error(sshd):
    sshd.server.stop()
    with pytest.raises(TransportError, match="connect|refused"):
        asyncio.run(connect(sshd.endpoint, sshd.credentials, timeout=5))


def test_pool_shares_one_connection_for_many_transfers(sshd):
    async def one(pool: Pool, i: int) -> None:
        async with pool.session(sshd.endpoint, sshd.credentials) as s:
            await s.write_bytes(f"f{i}.txt", b"x" * i)

    async def go():
        async with Pool() as pool:
            await asyncio.gather(*(one(pool, i) for i in range(10)))
            return pool.connections()

    assert asyncio.run(go()) == 1
    assert sorted(p.name for p in sshd.home.iterdir()) == sorted(f"f{i}.txt" for i in range(10))


def test_pool_bounds_connections_per_host(sshd, keys):
    rsa = replace(sshd.credentials, keys=(keys["rsa"],))
    peak = 0

    async def one(pool: Pool, creds, i: int) -> None:
        nonlocal peak
        async with pool.session(sshd.endpoint, creds) as s:
            peak = max(peak, pool.connections(sshd.endpoint))
            await s.write_bytes(f"{creds.keys[0].name}_{i}.txt", b"x")
            await asyncio.sleep(0.05)

    async def go():
        async with Pool(max_per_host=2, streams_per_connection=1) as pool:
            jobs = [one(pool, c, i) for i in range(4) for c in (sshd.credentials, rsa)]
            await asyncio.gather(*jobs)
            async with pool.session(sshd.endpoint, rsa):  # other account's idle link makes room
                return pool.connections(sshd.endpoint)

    assert asyncio.run(go()) <= 2
    assert peak <= 2
    assert len(list(sshd.home.iterdir())) == 8


def test_kept_idle_connections_serve_their_account_next_round_within_the_bound(sshd, keys):
    # `sf1630 run` visits every account each round: with keep_idle an account's idle connection is
    # still open when its turn comes again, while connections in use stay within max_per_host.
    rsa = replace(sshd.credentials, keys=(keys["rsa"],))
    active = peak = 0

    async def use(pool: Pool, creds) -> object:
        nonlocal active, peak
        async with pool.session(sshd.endpoint, creds) as s:
            active += 1
            peak = max(peak, active)
            await s.write_bytes(f"{creds.keys[0].name}.txt", b"x")
            await asyncio.sleep(0.05)
            active -= 1
            return s

    async def rounds(keep_idle: int):
        async with Pool(max_per_host=1, keep_idle=keep_idle) as pool:
            first = await asyncio.gather(use(pool, sshd.credentials), use(pool, rsa))
            second = await asyncio.gather(use(pool, sshd.credentials), use(pool, rsa))
            return [a is b for a, b in zip(first, second)], pool.connections(sshd.endpoint)

    assert asyncio.run(rounds(keep_idle=1)) == ([True, True], 2)
    assert peak == 1
    reused, open_now = asyncio.run(rounds(keep_idle=0))
    assert reused.count(True) <= 1 and open_now == 1
