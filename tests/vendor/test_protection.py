"""Data protection (issue #14): owner-only local files under any umask, copies removed once loaded,
and no row data in logs, status or alerts."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from sf1630.journal import open_journal
from sf1630.core.spool import Spool

from .conftest import edit_toml, journal_path, municipality_file, receive, send

CPR, NAME = "070761-4285", "Vestergaard"  # a row value that must never leave the LIS database
PICKY_SINK = '''
"""A sink that parses the CPR column as a number, so its error quotes the value (Python's wording)."""
import csv
from dataclasses import dataclass

import sf1630
from sf1630.api import API_VERSION, LoadResult, option


@dataclass
class Options:
    column: str = option("cpr", "the column parsed as a number")


class PickySink:
    name = "picky"
    api_version = API_VERSION
    Options = Options

    def load(self, delivery, path, options):
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f, delimiter=";"))
        for row in rows:
            int(row[options.column])
        return LoadResult(rows=len(rows), table="picky")


@sf1630.hookimpl
def sf1630_register_sinks(register):
    register(PickySink())
'''


BRITTLE_SOURCE = '''
"""The KY source under another name, failing the way parsing code fails: quoting the value."""
import dataclasses

import sf1630
from sf1630_plugins.sources import ky


class Brittle(type(ky.SOURCE)):
    def write_extract(self, job, out):
        raise ValueError("row 1: '070761-4285' (0707614285) is not a valid amount")


@sf1630.hookimpl
def sf1630_register_sources(register):
    register(Brittle(dataclasses.replace(ky.DESCRIPTOR, name="brittle"), ky.Options, ky.fake_rows))
'''


def with_picky_sink(world, name: str, column: str = "cpr", **kw) -> Path:
    """A LIS agent whose sinks are SQLite, the directory sink and, first, the picky sink (it fails)."""
    folder = world.root / name
    (folder / "plugins").mkdir(parents=True)
    (folder / "plugins" / "picky_sink.py").write_text(PICKY_SINK)
    sinks = [{"type": "picky", "options": {"column": column}},
             {"type": "sqlite", "options": {"path": str(folder / "db" / "lis" / "lis.sqlite3")}},
             {"type": "directory", "options": {"folder": str(folder / "archive" / "ikast")}}]
    return world.lis(name, sinks=sinks, plugin_paths=["plugins"], **kw)


def without_picky_sink(lis: Path) -> None:
    edit_toml(municipality_file(lis), lambda doc: doc["receive"].update(sinks=doc["receive"]["sinks"][1:]))


def agent_written(agent: Path) -> list[Path]:
    """Every path the agent wrote below its folder (not the config and plugin the test wrote)."""
    roots = [agent.parent / p for p in ("state", "db", "archive")]
    return [p for root in roots if root.exists() for p in (root, *root.rglob("*"))]


def loose(paths: list[Path]) -> list[str]:
    """Paths whose mode is not exactly 0600 (files) or 0700 (folders)."""
    bad = []
    for p in paths:
        mode = p.lstat().st_mode
        want = 0o700 if stat.S_ISDIR(mode) else 0o600
        if stat.S_IMODE(mode) != want:
            bad.append(f"{p} {stat.S_IMODE(mode):04o}")
    return bad


def test_every_local_file_is_owner_only_under_umask_000_and_copies_go_once_loaded(world):
    sender = world.sender()
    lis = with_picky_sink(world, "lis-vendor", column="case_id")  # not a number: the load fails
    old = os.umask(0)  # the agent used as a library, by a process with the loosest umask
    try:
        summary, _ = send(sender)
        world.wait_idle()
        first, _ = receive(lis)  # the picky sink fails: the delivery waits in quarantine
        held = agent_written(lis)
        held_loose, quarantined = loose(held), [p for p in held if "quarantine" in p.parts and p.is_file()]
        without_picky_sink(lis)
        second, _ = receive(lis)
    finally:
        os.umask(old)

    assert [t.state for t in summary.transfers] == ["delivered"]
    assert [len(r.quarantined) for r in first] == [1] and [len(r.loaded) for r in second] == [1]
    assert len(quarantined) == 1  # the data file (its metadata is kept in the journal)
    written = agent_written(sender) + agent_written(lis)
    names = {p.name for p in written}
    assert {"journal.sqlite", "lis.sqlite3", "out", "in", "quarantine"} <= names
    assert any(p.suffix == ".csv" and "archive" in p.parts for p in written)  # the directory sink's copy
    assert held_loose == [] and loose(written) == []
    # Local copies are removed once delivered or loaded: spool keep_days is 0.
    for agent in (sender, lis):
        assert [p for p in (agent.parent / "state" / "spool").rglob("*") if p.is_file()] == []


def test_spool_files_are_owner_only_while_still_being_written(tmp_path):
    spool = Spool(tmp_path / "spool")
    old = os.umask(0)
    try:
        mode, _ = spool.write(spool.outgoing("KY", "x.csv"), lambda out: stat.S_IMODE(os.fstat(out.fileno()).st_mode))
    finally:
        os.umask(old)
    assert mode == 0o600
    assert loose([tmp_path / "spool", *(tmp_path / "spool").rglob("*")]) == []


def test_no_row_data_in_logs_status_or_alerts_and_commands_write_owner_only(world, webhook, tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    made = export / "ky.csv"
    made.write_text(f"payment_id;cpr;name;net_amount\nP1;{CPR};{NAME};1200.50\n", encoding="utf-8")
    os.utime(made, (time.time() - 60, time.time() - 60))  # the export ran a minute ago
    sender = world.sender(options={"adapter": "directory", "folder": str(export), "settle_seconds": 0,
                                   "strict_header": False})
    lis = with_picky_sink(world, "lis-vendor")
    edit_toml(lis, lambda doc: doc.update(alerts={"webhook": {"url": webhook.url}}))
    outputs = []

    done = _cli("send", "--config", str(sender))
    outputs.append(done.stdout + done.stderr)
    assert done.returncode == 0, done.stderr
    world.wait_idle()
    outputs += _run_until_alert(lis, webhook)  # JSON logs of `sf1630 run`, and its alert
    for args in (["receive"], ["--log-format", "json", "receive"]):  # retried at once: fails again
        done = _cli(*args, "--config", str(lis))
        outputs.append(done.stdout + done.stderr)
        assert done.returncode == 1 and "load of" in done.stderr
    status = _cli("status", "--config", str(lis), "--json")
    outputs.append(status.stdout)

    [failure] = json.loads(status.stdout)["failures"]
    assert failure["error"].startswith("ValueError: invalid literal for int() with base 10:")
    assert "values left out" in failure["error"]
    assert json.loads(outputs[1].splitlines()[0])["level"]  # the run's log really is JSON
    for text in outputs:
        assert CPR not in text and CPR.replace("-", "") not in text and NAME not in text
    with open_journal(journal_path(lis)) as journal:
        assert all(CPR not in (t.error or "") for t in journal.transfers(limit=None))
    written = agent_written(sender) + agent_written(lis)
    assert "journal.sqlite.lock" in {p.name for p in written} and loose(written) == []


def test_a_source_failing_with_row_data_is_logged_without_it(world):
    sender = world.sender()
    (sender.parent / "plugins").mkdir()
    (sender.parent / "plugins" / "brittle_source.py").write_text(BRITTLE_SOURCE)
    edit_toml(sender, lambda doc: doc["agent"].update(plugin_paths=["plugins"]))
    edit_toml(municipality_file(sender), lambda doc: doc["send"][0].update(source="brittle"))

    done = _cli("send", "--config", str(sender))

    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "source brittle failed: ValueError: row 1: \"…\" (…) is not a valid amount (values left out)" \
        in done.stderr
    assert CPR not in done.stderr + done.stdout and CPR.replace("-", "") not in done.stderr + done.stdout


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sf1630", *args], capture_output=True, text=True, timeout=90,
                          preexec_fn=_loosest_umask)


def _loosest_umask() -> None:
    os.umask(0)  # the commands set their own (sf1630.transport.privacy): nothing they write may be readable by others


def _run_until_alert(lis: Path, webhook) -> list[str]:
    """``sf1630 --log-format json run`` until the load-failure alert arrives; its log and the alert."""
    proc = subprocess.Popen([sys.executable, "-m", "sf1630", "--log-format", "json", "run", "--config", str(lis)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_loosest_umask)
    try:
        bodies = webhook.wait_for(1, timeout=30)
    finally:
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert [b["event"] for b in bodies] == ["load_failed"] and bodies[0]["facts"]["error_type"] == "ValueError"
    assert proc.returncode == 0, err
    return [err + out, json.dumps(bodies, ensure_ascii=False)]

