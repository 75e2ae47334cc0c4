"""Metrics: the exposition text is valid, and a real run against the simulator shows in a scrape."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import tomli_w

from sf1630.api import Delivery, LoadResult
from sf1630.events import Delivered, Failed, Loaded, LoadFinished, Received
from sf1630.journal import open_journal
from sf1630.ops.metrics import Metrics, parse_listen, start_metrics
from sf1630.testing.sshd import free_port

from .conftest import HERNING, IKAST

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Parse exposition text strictly: every sample follows a HELP and TYPE of its family."""
    samples: dict[str, dict] = {}
    typed: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            typed[name] = kind
            continue
        if line.startswith("#"):
            assert line.startswith("# HELP "), line
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.group(1), match.group(2) or "", match.group(3)
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in typed else name
        assert family in typed, f"{name} has no # TYPE line"
        samples.setdefault(name, {})[tuple(LABEL.findall(labels))] = float(value)
    return samples


def scrape(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse(answer.read().decode())


def value(samples: dict, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(v for key, v in samples.get(name, {}).items() if set(labels.items()) <= set(key))


def test_events_and_journal_render_as_valid_exposition_text(tmp_path: Path) -> None:
    journal = open_journal(tmp_path / "journal.sqlite")
    t, _ = journal.claim("send", "KY_LIS_1.csv@KY", municipality="herning", source="ky", account="KY",
                         file_name="KY_LIS_1.csv", size=1234, rows=10)
    journal.move(t.id, "trigger_uploaded")
    time.sleep(0.05)
    done = journal.move(t.id, "delivered", file_transfer_uuid="u-1")
    bad, _ = journal.claim("send", "KY_LIS_2.csv@KY", municipality="ikast-brande", source="ky", account="KY",
                           file_name="KY_LIS_2.csv")
    metrics = Metrics(journal)
    metrics(Delivered(transfer=done))
    metrics(Failed(transfer=journal.move(bad.id, "failed"),
                   reason='400 A recipient is not known: "NOBODY" unknown; 401 No route matches: no "route"',
                   codes=(400, 401)))  # the codes come with the event, never parsed from the text
    delivery = Delivery("u-9", "KY_LIS_9.csv", "KY_SFTPSIMPEL", "HERNING_LIS01_SIMPEL", 99, "KY", "herning")
    metrics(Received(delivery=delivery, transfer=done))
    metrics(Loaded(delivery=delivery, sink="sqlite", result=LoadResult(7, "ky")))
    metrics(Loaded(delivery=delivery, sink="postgres", result=LoadResult(7, "ky")))
    metrics(LoadFinished(delivery=delivery, transfer=done, rows=7))  # the file's rows, once
    metrics(LoadFinished(delivery=delivery, transfer=done, rows=0))  # loaded before by every sink

    s = parse(metrics.render())

    assert value(s, "sf1630_transfers", kind="send", state="delivered") == 1
    assert value(s, "sf1630_transfers", kind="send", state="failed") == 1
    assert value(s, "sf1630_bytes_total", kind="send", municipality="herning", source="ky") == 1234
    assert value(s, "sf1630_bytes_total", kind="receive") == 99
    assert value(s, "sf1630_rows_total", kind="receive") == 7  # not 14 for two sinks; a duplicate adds nothing
    assert value(s, "sf1630_errors_total", code="400") == 1 and value(s, "sf1630_errors_total", code="401") == 1
    assert value(s, "sf1630_events_total", event="loaded") == 2
    # Seeded from the journal at attach, then raised by the event: one gauge per (kind, municipality, source).
    assert set(s["sf1630_last_success_timestamp_seconds"]) == {
        (("kind", "send"), ("municipality", "herning"), ("source", "ky")),
        (("kind", "receive"), ("municipality", "herning"), ("source", "ky"))}
    buckets = sorted((float(k[0][1]), v) for k, v in s["sf1630_receipt_wait_seconds_bucket"].items())
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative
    assert s["sf1630_receipt_wait_seconds_count"][()] == 1  # the failed one never uploaded a trigger
    assert 0.05 <= s["sf1630_receipt_wait_seconds_sum"][()] < 5
    journal.close()


def test_listen_spec_and_a_taken_port_is_a_clear_error() -> None:
    assert parse_listen("9630") == ("127.0.0.1", 9630)
    assert parse_listen("0.0.0.0:9630") == ("0.0.0.0", 9630)
    assert parse_listen("[::1]:9630") == ("::1", 9630)
    server = start_metrics(0)
    try:
        with pytest.raises(Exception, match="cannot listen on 127.0.0.1"):
            start_metrics(server.port)
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/other", timeout=5)
    finally:
        server.close()
    with pytest.raises(Exception, match="write a port"):
        parse_listen("http")


def _send_round(agent_toml: Path, server) -> tuple[list, dict]:
    """One send round in-process with the metrics server as an event target; the transfers and a scrape."""
    from sf1630.config.load import load_config
    from sf1630.agent.flow import send_round
    from sf1630.agent.runtime import Selection, build_runtime

    async def go():
        rt = build_runtime(load_config(agent_toml), emitters=[server])
        server.attach(rt.journal)
        try:
            transfers = (await send_round(rt, Selection(), asyncio.Event())).transfers
            return transfers, await asyncio.to_thread(scrape, server.port)
        finally:
            await rt.aclose()

    return asyncio.run(go())


def test_a_real_send_and_a_running_lis_agent_are_scraped_over_http(platform, tmp_path: Path) -> None:
    sender = platform.sandbox.write_agent("source", receive=False, rows=25, agent={"receipt_timeout": 30})
    ikast = sender.parent / "municipalities" / f"{IKAST.key}.toml"
    doc = tomllib.loads(ikast.read_text())
    doc["send"][0]["recipients"] = ["NOBODY_LIS01_SIMPEL"]  # the platform answers 400 UNKNOWN_RECIPIENT
    ikast.write_text(tomli_w.dumps(doc))
    server = start_metrics(0)
    try:
        transfers, s = _send_round(sender, server)
    finally:
        server.close()
    assert sorted(t.state for t in transfers) == ["cleaned", "delivered"]
    delivered = next(t for t in transfers if t.state == "delivered")
    assert value(s, "sf1630_bytes_total", kind="send", municipality=HERNING.key, source="ky") == delivered.size
    assert value(s, "sf1630_rows_total", kind="send", municipality=HERNING.key, source="ky") == 25
    assert value(s, "sf1630_errors_total", kind="send", code="400") == 1
    assert s["sf1630_receipt_wait_seconds_count"][()] == 2
    assert value(s, "sf1630_transfers", kind="send", state="delivered") == 1
    assert value(s, "sf1630_transfers", kind="send", state="cleaned") == 1
    assert value(s, "sf1630_last_success_timestamp_seconds", municipality=HERNING.key) > time.time() - 60
    assert value(s, "sf1630_last_success_timestamp_seconds", municipality=IKAST.key) == 0

    # The LIS agent as a service, with --metrics-port: its scrape shows the load.
    platform.wait_idle()
    lis = platform.sandbox.write_agent("lis", send=False, municipalities=(HERNING,),
                                       sinks=[{"type": "sqlite", "options": {"path": str(tmp_path / "lis.db")}}])
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sf1630", "--log-level", "WARNING", "run", "--config", str(lis),
                             "--metrics-port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        s = _wait_for_rows(port, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert value(s, "sf1630_rows_total", kind="receive", municipality=HERNING.key, source="ky") == 25
    assert value(s, "sf1630_transfers", kind="receive", state="loaded") == 1
    assert value(s, "sf1630_last_success_timestamp_seconds", kind="receive", municipality=HERNING.key) > 0


def _wait_for_rows(port: int, proc: subprocess.Popen, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            s = scrape(port)
        except OSError:
            s = {}
        if value(s, "sf1630_rows_total", kind="receive"):
            return s
        time.sleep(0.2)
    raise AssertionError("no load showed in the metrics")
