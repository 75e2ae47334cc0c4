"""``sf1630 status`` through the real command: tables on a terminal, JSON with --json."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sf1630.config import load_config
from sf1630.journal import open_journal

from .conftest import AARHUS, IKAST

EVERY_MINUTE = AARHUS.replace('schedule = "0 6 5 * *"\ngrace = "6h"', 'schedule = "* * * * *"\ngrace = 0')


@pytest.fixture
def site(make_config) -> Path:
    """A config whose journal holds a delivered, a failed resend, a send waiting for an overdue receipt,
    and a quarantined load."""
    path = make_config(municipalities={"ikast-brande": IKAST, "aarhus": EVERY_MINUTE})
    cfg = load_config(path)
    with open_journal(cfg.journal) as j:
        ok, _ = j.claim("send", "KY:KY_LIS_11111111_M02_20240301020000.csv", municipality="ikast-brande",
                        source="ky", account="KY", file_name="KY_LIS_11111111_M02_20240301020000.csv")
        j.move(ok.id, "extracted", size=2048, rows=17)
        j.move(ok.id, "delivered", file_transfer_uuid="6f1d3c0e-8a51-4b9e-a2c4-5d7e9f0b1a23")
        late, _ = j.claim("send", "KY:KY_LIS_11111111_M03_20240401020000.csv", municipality="ikast-brande",
                          source="ky", account="KY", file_name="KY_LIS_11111111_M03_20240401020000.csv")
        j.move(late.id, "trigger_uploaded", size=100, rows=1)
        again, _ = j.claim("send", "KY:KY_LIS_11111111_M02_20240410090000.csv", municipality="ikast-brande",
                           source="ky", account="KY", file_name="KY_LIS_11111111_M02_20240410090000.csv",
                           details={"resend_reason": "LIS lost the February load", "resend_by": "ops"})
        j.move(again.id, "failed", error="receipt error 7: unknown recipient")
        bad, _ = j.claim("receive", "lis-aarhus:0b9d", municipality="aarhus", source="DUBU", account="lis-aarhus",
                         file_name="DUBU_LIS_22222222_M03_20240402010000.csv", file_transfer_uuid="0b9d")
        j.move(bad.id, "quarantined", error="sqlite sink: database is locked")
    with sqlite3.connect(cfg.journal) as db:  # the receipt has been awaited for two hours
        db.execute("UPDATE transfers SET updated_at = updated_at - 7200 WHERE id = ?", (late.id,))
    return path


def test_status_table_shows_what_waits_failures_resends_and_overdue(site: Path, run_cli) -> None:
    result = run_cli("status", "--config", str(site))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    sections = ["Waiting (2)", "Failures (2)", "Resends (1)", "Overdue extracts (1)", "Recent transfers (4)"]
    assert [out.index(s) for s in sections] == sorted(out.index(s) for s in sections)
    waiting = out[out.index("Waiting"):out.index("Failures")]
    assert "KY_LIS_11111111_M03_20240401020000.csv" in waiting and "receipt missing for 2h 0m" in waiting
    assert "load failed, kept in quarantine and retried: sqlite sink: database is locked" in waiting
    resends = out[out.index("Resends"):out.index("Overdue")]
    assert "LIS lost the February load (by ops)" in resends
    overdue = out[out.index("Overdue"):out.index("Recent")]
    assert "aarhus" in overdue and "ky" in overdue
    assert "send.delivered 1" in out.splitlines()[0]
    recent = out[out.index("Recent"):].splitlines()
    assert recent[1].split()[:3] == ["ID", "KIND", "STATE"] and "2048" in out and "17" in out


def test_status_json(site: Path, run_cli) -> None:
    result = run_cli("status", "--config", str(site), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["counts"] == {"receive.quarantined": 1, "send.delivered": 1, "send.failed": 1,
                                "send.trigger_uploaded": 1}
    assert {t["state"] for t in report["waiting"]} == {"trigger_uploaded", "quarantined"}
    assert {t["file_name"] for t in report["failures"]} == {"KY_LIS_11111111_M02_20240410090000.csv",
                                                            "DUBU_LIS_22222222_M03_20240402010000.csv"}
    assert report["resends"][0]["details"]["resend_reason"] == "LIS lost the February load"
    assert [(o["municipality"], o["source"]) for o in report["overdue"]] == [("aarhus", "ky")]
    assert len(report["recent"]) == 4 and report["environment"] == "test"
    delivered = next(t for t in report["recent"] if t["state"] == "delivered")
    assert delivered["file_transfer_uuid"] == "6f1d3c0e-8a51-4b9e-a2c4-5d7e9f0b1a23" and delivered["rows"] == 17
    assert delivered["updated"][:4].isdigit() and "T" in delivered["updated"]


def test_an_arrived_extract_is_not_overdue_and_limit_cuts_sections(site: Path, run_cli) -> None:
    cfg = load_config(site)
    with open_journal(cfg.journal) as j:
        j.claim("receive", "lis-aarhus:77aa", municipality="aarhus", source="KY", account="lis-aarhus",
                file_name="KY_LIS_22222222_M03_20240402020000.csv")
    report = json.loads(run_cli("status", "--config", str(site), "--json", "--limit", "1").stdout)
    assert report["overdue"] == []
    assert len(report["recent"]) == 1 and len(report["waiting"]) == 1


def test_status_without_a_journal_creates_none(make_config, run_cli) -> None:
    path = make_config()
    result = run_cli("status", "--config", str(path))
    assert result.returncode == 0 and "no journal yet" in result.stdout
    assert "Waiting: none" in result.stdout
    assert not (path.parent / "state").exists()
    report = json.loads(run_cli("status", "--config", str(path), "--json").stdout)
    assert report["recent"] == [] and report["note"].startswith("no journal yet")


def test_status_with_a_broken_config_says_where(make_config, run_cli) -> None:
    path = make_config(municipalities={"ikast-brande": IKAST.replace('cvr = "11111111"', 'cvr = "111"')})
    result = run_cli("status", "--config", str(path))
    assert result.returncode == 1
    assert "ikast-brande.toml:4: municipality.cvr:" in result.stderr


def test_status_finds_the_config_through_the_environment_variable(site: Path, run_cli) -> None:
    result = run_cli("status", "--json", env={"SF1630_CONFIG": str(site)})
    assert result.returncode == 0 and json.loads(result.stdout)["journal"].endswith("journal.sqlite")
