"""Crash safety: a crash at any step is finished on restart; SIGTERM leaves nothing half-delivered."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import asyncssh
import pytest

from sf1630.documents.metadata import parse_metadata
from sf1630.documents.receipt import parse_receipt

from .conftest import DATA, KY, LIS1, LIS2, send, trigger_bytes, write_config


class SimulatedCrash(Exception):
    """Raised by the step hook: the route stops there, as if the process had died."""


def crash_at(step_name: str):
    def hook(step: str, uuid: str) -> None:
        if step == step_name:
            raise SimulatedCrash(step)
    return hook


def assert_never_metadata_without_data(running) -> None:
    for user in (LIS1, LIS2):
        for meta in running.inbox(user).glob("*.metadata"):
            size = parse_metadata(meta.read_bytes()).descriptor.size_in_bytes
            assert (running.inbox(user) / meta.name[: -len(".metadata")]).stat().st_size == size


STEPS = ["receipt", f"data:{LIS1}", f"metadata:{LIS1}", f"data:{LIS2}", f"metadata:{LIS2}", "clean"]


@pytest.mark.parametrize("step", STEPS)
def test_restart_after_a_crash_finishes_the_delivery(make_platform, connect, step):
    first = make_platform(step_hook=crash_at(step))
    client = connect(first, KY)
    send(client, b"abc", recipients=(LIS1, LIS2))
    first.wait_until = time.monotonic() + 5
    while not list((first.root / ".platform" / "journal").glob("*.json")) and time.monotonic() < first.wait_until:
        time.sleep(0.01)
    time.sleep(0.1)
    assert first.locked(KY, DATA)                        # still in processing: the sender must wait
    assert_never_metadata_without_data(first)
    client.close()
    first.stop()
    assert len(list((first.root / ".platform" / "journal").glob("*.json"))) == 1

    second = make_platform()                             # same folder, same root, no crash this time
    second.wait_idle()
    receipt = parse_receipt((second.inbox(KY) / f"{DATA}.sftpreceipt").read_bytes())
    assert receipt.ok
    for user in (LIS1, LIS2):
        assert (second.inbox(user) / DATA).read_bytes() == b"abc"
        meta = parse_metadata((second.inbox(user) / f"{DATA}.metadata").read_bytes())
        assert meta.file_transfer_uuid == receipt.file_transfer_uuid
    assert list(second.outbox(KY).iterdir()) == []
    assert list((second.root / ".platform" / "journal").iterdir()) == []
    assert list((second.root / ".platform" / "staging").iterdir()) == []


def test_restart_after_a_crash_finishes_a_refusal(make_platform, connect):
    first = make_platform(step_hook=crash_at("receipt"))
    send(connect(first, KY), b"abc", trigger=trigger_bytes(DATA, 7))
    deadline = time.monotonic() + 5
    while not list((first.root / ".platform" / "journal").glob("*.json")):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    first.stop()
    second = make_platform()
    second.wait_idle()
    assert [e.code for e in parse_receipt((second.inbox(KY) / f"{DATA}.sftpreceipt").read_bytes()).errors] == [201]
    assert sorted(p.name for p in second.outbox(KY).iterdir()) == [DATA]


@pytest.fixture
def serve():
    """Factory: serve(config) starts `sf1630 platform serve` -> (process, port); killed at the end if still up."""
    started: list[subprocess.Popen] = []

    def start(config: Path) -> tuple[subprocess.Popen, int]:
        proc = subprocess.Popen([sys.executable, "-m", "sf1630", "platform", "serve", "--config", str(config)],
                                stderr=subprocess.PIPE, text=True)
        started.append(proc)
        return proc, _port_of(proc)

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _port_of(proc: subprocess.Popen) -> int:
    for line in proc.stderr:
        found = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if found:
            threading.Thread(target=proc.stderr.read, daemon=True).start()   # keep draining
            return int(found.group(1))
    raise AssertionError(f"serve did not start (exit {proc.wait()})")


async def keep_sending(port: int, known_hosts: Path, key: Path, names: list[str], stop: threading.Event) -> None:
    try:
        async with asyncssh.connect("127.0.0.1", port, username=KY, client_keys=[str(key)],
                                    known_hosts=str(known_hosts)) as conn, conn.start_sftp_client() as sftp:
            for n, name in enumerate(names):
                if stop.is_set():
                    return
                data = os.urandom(50_000 + n)
                async with sftp.open(f"OUT/{name}", "wb") as f:
                    await f.write(data)
                async with sftp.open(f"OUT/{name}.trigger", "wb") as f:
                    await f.write(trigger_bytes(name, len(data), recipients=(LIS1, LIS2)))
    except (OSError, asyncssh.Error):
        pass     # the server went away mid-upload: expected


def test_sigterm_during_transfers_leaves_nothing_half_delivered(tmp_path, keys, serve):
    config = write_config(tmp_path / "serve", keys)
    root = tmp_path / "serve" / "root"
    proc, port = serve(config)
    known = tmp_path / "known_hosts"
    host_pub = (root / ".platform" / "host_key_ed25519.pub").read_text().split()
    known.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    names = [f"KY_LIS_11111111_M03_2018040213{n:04d}.csv" for n in range(200)]
    stop = threading.Event()
    sender = threading.Thread(target=asyncio.run, args=(keep_sending(port, known, keys[KY], names, stop),))
    sender.start()
    deadline = time.monotonic() + 20
    while len(list((root / KY / "IN").iterdir())) < 5:
        assert time.monotonic() < deadline, "no receipts"
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    stop.set()
    sender.join(15)

    assert list((root / ".platform" / "journal").iterdir()) == []      # in-flight routes were finished
    assert list((root / ".platform" / "staging").iterdir()) == []
    delivered = {p.name[: -len(".sftpreceipt")] for p in (root / KY / "IN").iterdir()}
    for name in delivered:
        assert not (root / KY / "OUT" / name).exists() and not (root / KY / "OUT" / f"{name}.trigger").exists()
        for user in (LIS1, LIS2):
            meta = parse_metadata((root / user / "IN" / f"{name}.metadata").read_bytes())
            assert (root / user / "IN" / name).stat().st_size == meta.descriptor.size_in_bytes
    for user in (LIS1, LIS2):                                         # nothing else reached a recipient
        assert {p.name for p in (root / user / "IN").iterdir()} == \
               {n for d in delivered for n in (d, f"{d}.metadata")}

    proc, port = serve(config)         # what was left in OUT is routed after a restart
    try:
        waiting = {p.name[: -len(".trigger")] for p in (root / KY / "OUT").glob("*.trigger")}
        deadline = time.monotonic() + 20
        while any(not (root / KY / "IN" / f"{n}.sftpreceipt").exists() for n in waiting):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0


def test_serve_reports_port_in_use_and_bad_keys_in_one_line(tmp_path, keys, serve):
    config = write_config(tmp_path / "a", keys)
    proc, port = serve(config)
    try:
        busy = write_config(tmp_path / "b", keys, server={"port": port})
        done = subprocess.run([sys.executable, "-m", "sf1630", "platform", "serve", "--config", str(busy)],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 2
        assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in done.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0

    (tmp_path / "garbage").write_text("not a key")
    for config, message in [(write_config(tmp_path / "c", {KY: tmp_path / "missing"}, routes=[]),
                             "cannot read the public key"),
                            (write_config(tmp_path / "d", keys, server={"host_key": str(tmp_path / "garbage")}),
                             "cannot read the host key")]:
        done = subprocess.run([sys.executable, "-m", "sf1630", "platform", "serve", "--config", str(config)],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 2 and message in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
