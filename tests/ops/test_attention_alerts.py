"""A schema change and a file from an unexpected sender: logged, alerted, in `status` until resolved (issue #17)."""

from __future__ import annotations

import json
import logging
import sqlite3
import tomllib

import tomli_w

from .conftest import HERNING, IKAST, KY, sf1630
from .test_alerts import add_alerts, run_round


def test_schema_change_and_unexpected_sender_alert_and_wait_in_status_until_resolved(platform, webhook, tmp_path,
                                                                                     caplog) -> None:
    sender = platform.sandbox.write_agent("source", receive=False, rows=5, agent={"receipt_timeout": 30})
    run_round(sender)
    platform.wait_idle()
    database = tmp_path / "lis.sqlite3"
    lis = platform.sandbox.write_agent("lis", send=False,
                                       sinks=[{"type": "sqlite", "options": {"path": str(database)}}])
    ikast = lis.parent / "municipalities" / f"{IKAST.key}.toml"
    doc = tomllib.loads(ikast.read_text())
    doc["receive"]["expected_senders"] = ["DUBU_SFTPSIMPEL"]  # KY is not expected here
    ikast.write_text(tomli_w.dumps(doc))
    with sqlite3.connect(database) as db:  # Herning's table has a column the source no longer writes
        db.execute("CREATE TABLE ky (payment_id TEXT, retired_column TEXT)")
    add_alerts(lis, {"webhook": {"url": webhook.url}})
    caplog.set_level(logging.WARNING, logger="sf1630")

    run_round(lis, "receive")

    by_event = {b["event"]: b for b in webhook.wait_for(2)}
    assert set(by_event) == {"schema_changed", "unexpected_sender"}
    assert by_event["unexpected_sender"]["facts"]["sender"] == KY.user
    assert "retired_column missing" in by_event["schema_changed"]["facts"]["changes"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("changed the table(s) it loads into" in w and "retired_column missing" in w for w in warnings)

    report = json.loads(sf1630("status", "--config", str(lis), "--json").stdout)
    kinds = {a["kind"]: a for a in report["attention"]}
    assert set(kinds) == {"schema_changed", "unexpected_sender"}
    assert kinds["schema_changed"]["municipality"] == HERNING.key
    assert kinds["unexpected_sender"]["municipality"] == IKAST.key and KY.user in kinds["unexpected_sender"]["message"]
    assert sf1630("status", "--config", str(lis), "--check").returncode == 1

    # The schema change is resolved by hand; the unexpected file is dealt with (removed from IN/).
    problem = kinds["schema_changed"]["ref"].split(":")[1]
    resolved = sf1630("status", "--config", str(lis), "--resolve", problem)
    assert resolved.returncode == 0 and f"resolved problem {problem}: schema_changed" in resolved.stdout
    wrong = sf1630("status", "--config", str(lis), "--resolve", "999")
    assert wrong.returncode == 1 and "no open problem 999" in wrong.stderr
    for name in [f.name for f in (platform.server.root / IKAST.lis_user / "IN").iterdir()]:
        (platform.server.root / IKAST.lis_user / "IN" / name).unlink()
    run_round(lis, "receive")
    check = sf1630("status", "--config", str(lis), "--check")
    assert check.returncode == 0, check.stdout
