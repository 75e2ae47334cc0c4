"""``sf1630 doctor`` on good and broken installations, against the simulator over real SFTP."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from sf1630.testing.sshd import free_port

from .conftest import HERNING, in_process


def doctor(capsys, agent: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    status, out, _ = in_process("doctor", "--config", str(agent), "--json", "--timeout", "3", *extra)(capsys)
    return status, json.loads(out)


def findings(report: dict, level: str, topic: str = "") -> list[dict]:
    return [f for f in report["findings"] if f["level"] == level and f["topic"].startswith(topic)]


def edit(path: Path, change) -> None:
    doc = tomllib.loads(path.read_text())
    change(doc)
    path.write_text(tomli_w.dumps(doc))


@pytest.fixture
def agent(platform) -> Path:
    """A source vendor's agent for Herning (account KY) against the running simulator."""
    return platform.sandbox.write_agent("agent", receive=False, municipalities=(HERNING,))


def test_a_good_installation_passes_and_lists_the_folders(agent, capsys) -> None:
    status, report = doctor(capsys, agent)
    assert status == 0, report
    assert report["errors"] == 0 and report["warnings"] == 0
    [connected] = findings(report, "ok", "connect KY")
    assert "KY_SFTPSIMPEL@127.0.0.1" in connected["message"] and "IN/ 0 file(s), OUT/ 0 file(s)" in connected["message"]
    assert "KY_SFTPSIMPEL_ed25519" in connected["message"]  # the key it logged in with
    assert "not created yet" in findings(report, "ok", "journal")[0]["message"]
    assert findings(report, "ok", "known_hosts")[0]["message"].count("SHA256:") == 1


def test_the_text_report_says_what_to_fix(agent, platform, capsys) -> None:
    key = platform.sandbox.key_of("KY_SFTPSIMPEL")
    key.chmod(0o644)
    status, out, _ = in_process("doctor", "--config", str(agent), "--offline")(capsys)
    assert status == 1
    assert "ERROR  keys KY" in out and "is readable by others (mode 0644)" in out
    assert f"fix: chmod 600 {key}" in out
    assert "1 error(s)" in out


def test_a_world_readable_key_is_refused(agent, platform, capsys) -> None:
    key = platform.sandbox.key_of("KY_SFTPSIMPEL")
    key.chmod(0o604)
    status, report = doctor(capsys, agent)
    assert status == 1
    [bad] = findings(report, "error", "keys KY")
    assert bad["fix"] == f"chmod 600 {key}"


def test_a_missing_known_hosts_names_the_command_that_trusts_the_platform(agent, platform, capsys) -> None:
    known = platform.sandbox.keys / "known_hosts"
    known.unlink()
    status, report = doctor(capsys, agent)
    assert status == 1
    [bad] = findings(report, "error", "known_hosts")
    assert f"{known} does not exist; the server presents SHA256:" in bad["message"]
    assert f"ssh-keyscan -p {platform.port} 127.0.0.1 >> {known}" in bad["fix"]
    assert findings(report, "error", "connect") == []  # not tried without a trusted host key


def test_known_hosts_without_the_platforms_entry(agent, platform, capsys) -> None:
    (platform.sandbox.keys / "known_hosts").write_text("[otherhost]:22 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBf4Ci4E9pC1NQUdkeEx8COr+rSH/v4SscE6lEeuFYU8\n")
    status, report = doctor(capsys, agent)
    assert status == 1
    assert f"has no entry for [127.0.0.1]:{platform.port}" in findings(report, "error", "known_hosts")[0]["message"]


def test_an_unreachable_host_fails_fast(agent, platform, capsys) -> None:
    port = free_port()
    edit(agent, lambda d: d["environments"]["local"].update(port=port))
    with (platform.sandbox.keys / "known_hosts").open("a") as f:  # trusted, but nobody listens there
        f.write((platform.sandbox.keys / "known_hosts").read_text().replace(str(platform.port), str(port)))
    started = time.monotonic()
    status, report = doctor(capsys, agent)
    assert status == 1 and time.monotonic() - started < 10
    [bad] = findings(report, "error", "connect KY")
    assert f"127.0.0.1:{port}" in bad["message"] and "firewall" in bad["fix"]


def test_old_keys_warn_and_a_refused_first_key_says_finish_the_rollover(agent, platform, tmp_path, capsys) -> None:
    from sf1630.simulator.sandbox import make_key

    key = platform.sandbox.key_of("KY_SFTPSIMPEL")
    stale = time.time() - 400 * 86400
    os.utime(key, (stale, stale))
    stranger = tmp_path / "stranger_ed25519_20200101"  # dated in its name: its age comes from the name
    make_key(stranger)
    edit(agent, lambda d: d["accounts"]["KY"].update(keys=[str(stranger), str(key)]))
    status, report = doctor(capsys, agent)
    assert status == 0, report
    old = findings(report, "warn", "keys KY")
    assert {f["message"].split()[0] for f in old} == {key.name, stranger.name}
    assert all("sf1630 keys new --account KY" in f["fix"] for f in old)
    [rollover] = findings(report, "warn", "connect KY")
    assert f"refused {stranger.name} and took {key.name}" in rollover["message"]


def test_key_max_age_days_is_configurable(agent, platform, capsys) -> None:
    key = platform.sandbox.key_of("KY_SFTPSIMPEL")
    three_days = time.time() - 3 * 86400
    os.utime(key, (three_days, three_days))
    _, report = doctor(capsys, agent, "--offline")
    assert findings(report, "warn", "keys KY") == []  # default 365 days
    edit(agent, lambda d: d["agent"].update(key_max_age_days=2))
    status, report = doctor(capsys, agent, "--offline")
    assert status == 0
    [old] = findings(report, "warn", "keys KY")
    assert old["message"] == f"{key.name} is 3 days old (key_max_age_days = 2)"


def test_files_others_can_read_and_a_newer_journal_are_errors(agent, capsys) -> None:
    spool = agent.parent / "state" / "spool" / "out" / "KY"
    spool.mkdir(parents=True, mode=0o700)
    os.chmod(agent.parent / "state", 0o700)
    os.chmod(agent.parent / "state" / "spool", 0o700)
    os.chmod(spool.parent, 0o700)
    leak = spool / "KY_LIS_22222222_M01_20260101000000.csv"
    leak.write_text("cpr;x\n")
    leak.chmod(0o644)
    with sqlite3.connect(agent.parent / "state" / "journal.sqlite") as db:
        db.execute("PRAGMA user_version = 99")
    os.chmod(agent.parent / "state" / "journal.sqlite", 0o600)

    status, report = doctor(capsys, agent, "--offline")

    assert status == 1
    [files] = findings(report, "error", "files spool")
    assert f"{leak} (0644)" in files["message"] and files["fix"].startswith("chmod -R go-rwx ")
    [journal] = findings(report, "error", "journal")
    assert "schema 99, written by a newer sf1630" in journal["message"]


def test_keep_days_overruns_in_spool_quarantine_and_archive(platform, tmp_path, capsys) -> None:
    archive = tmp_path / "archive"
    lis = platform.sandbox.write_agent("lis", send=False, municipalities=(HERNING,),
                                       sinks=[{"type": "directory", "options": {"folder": str(archive), "keep_days": 5}}])
    old = time.time() - 10 * 86400
    for folder in (archive / "ky" / "uuid-old", archive / "ky" / "uuid-new"):
        folder.mkdir(parents=True, mode=0o700)
    for p in (archive, archive / "ky"):
        p.chmod(0o700)
    os.utime(archive / "ky" / "uuid-old", (old, old))
    spool = lis.parent / "state" / "spool"
    for part in ("in/HERNING/u1", "quarantine/HERNING/u2"):
        (spool / part).mkdir(parents=True, mode=0o700)
        f = spool / part / "KY_LIS_22222222_M01_20260101000000.csv"
        f.write_text("x")
        f.chmod(0o600)
        os.utime(f, (old, old))
    for p in [spool, *spool.rglob("*")]:
        if p.is_dir():
            p.chmod(0o700)
    (lis.parent / "state").chmod(0o700)

    status, report = doctor(capsys, lis, "--offline")

    assert status == 0, report
    topics = {f["topic"]: f for f in findings(report, "warn", "keep_days")}
    assert set(topics) == {"keep_days spool", "keep_days quarantine", f"keep_days directory folder ({HERNING.key})"}
    assert "1 archived deliveries" in topics[f"keep_days directory folder ({HERNING.key})"]["message"]
    assert "keep_days = 5, oldest 10 days" in topics[f"keep_days directory folder ({HERNING.key})"]["message"]
    assert "oldest 10 days" in topics["keep_days quarantine"]["message"]


def test_config_and_alert_errors_stop_or_fail_the_check(agent, capsys) -> None:
    edit(agent, lambda d: d.update(alerts={"webhook": {"url": "ftp://nowhere"}}))
    status, report = doctor(capsys, agent, "--offline")
    assert status == 1 and "must start with https://" in findings(report, "error", "alerts")[0]["message"]
    edit(agent, lambda d: d["agent"].update(concurrency="many"))
    status, report = doctor(capsys, agent)
    assert status == 1
    assert [f["topic"] for f in report["findings"]] == ["config"]
    assert "agent.concurrency" in report["findings"][0]["message"]


def test_after_a_real_send_and_receive_every_file_is_owner_only(platform, tmp_path, capsys) -> None:
    import asyncio

    from sf1630.config.load import load_config
    from sf1630.agent.flow import make_receiver, receive_round, send_round
    from sf1630.agent.runtime import Selection, build_runtime

    sender = platform.sandbox.write_agent("source", receive=False, rows=5, municipalities=(HERNING,))
    lis = platform.sandbox.write_agent("lis", send=False, municipalities=(HERNING,), sinks=[
        {"type": "sqlite", "options": {"path": str(tmp_path / "lis" / "lis.sqlite3")}},
        {"type": "directory", "options": {"folder": str(tmp_path / "lis" / "archive")}}])

    async def rounds(agent: Path, kind: str) -> None:
        rt = build_runtime(load_config(agent))
        try:
            if kind == "send":
                await send_round(rt, Selection(), asyncio.Event())
            else:
                await receive_round(rt, make_receiver(rt, asyncio.Event()), Selection())
        finally:
            await rt.aclose()

    asyncio.run(rounds(sender, "send"))
    platform.wait_idle()
    asyncio.run(rounds(lis, "receive"))
    assert any((tmp_path / "lis" / "archive").rglob("*.csv"))

    for agent in (lis, sender):
        status, report = doctor(capsys, agent, "--offline")
        assert status == 0, "\n".join(f["message"] for f in report["findings"] if f["level"] != "ok")
        assert findings(report, "ok", "files")[0]["message"] == "the spool, journal and sink files are owner-only"


def test_test_alert_goes_through_each_channel(agent, smtp, webhook, capsys) -> None:
    edit(agent, lambda d: d.update(alerts={
        "email": {"host": "127.0.0.1", "port": smtp.port, "tls": "none", "sender": "a@b.example",
                  "recipients": ["c@d.example"]},
        "webhook": {"url": webhook.url}}))
    status, report = doctor(capsys, agent, "--offline", "--test-alert")
    assert status == 0, report
    assert {f["topic"] for f in findings(report, "ok", "alerts ")} == {"alerts email", "alerts webhook"}
    assert smtp.wait_for(1)[0].message["X-Sf1630-Event"] == "test"
    assert webhook.wait_for(1)[0]["event"] == "test"

    edit(agent, lambda d: d["alerts"]["email"].update(port=free_port(), timeout=1))
    status, report = doctor(capsys, agent, "--offline", "--test-alert")
    assert status == 1
    [bad] = findings(report, "error", "alerts email")
    assert "test alert not sent by e-mail to c@d.example" in bad["message"] and "ConnectionRefusedError" in bad["message"]
