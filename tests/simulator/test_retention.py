"""Retention: files unchanged for `days` are deleted, a warning at `warn_days`, names in processing kept."""

from __future__ import annotations

import os
import time

from .conftest import DATA, KY, LIS1, send

DAY = 86400


def age(path, days: float) -> None:
    then = time.time() - days * DAY
    os.utime(path, (then, then))


def test_sweep_deletes_old_files_and_warns_once(make_platform):
    warnings: list[dict] = []
    running = make_platform(retention={"days": 30, "warn_days": 20},
                            on_retention_warning=lambda **kw: warnings.append(kw))
    old, aging, fresh = running.inbox(LIS1) / "old.csv", running.outbox(KY) / "aging.csv", running.inbox(KY) / "new"
    for path, days in ((old, 31), (aging, 21), (fresh, 1)):
        path.write_bytes(b"x")
        age(path, days)

    running.run(running.platform.sweep())
    assert not old.exists() and aging.exists() and fresh.exists()
    assert [(w["user"], w["path"].name, round(w["age_days"])) for w in warnings] == [(KY, "aging.csv", 21)]

    running.run(running.platform.sweep())
    assert len(warnings) == 1                          # warned once per file ...
    age(aging, 22)
    running.run(running.platform.sweep())
    assert len(warnings) == 2                          # ... and again when it has changed since


def test_names_in_processing_are_not_swept(make_platform, connect):
    running = make_platform(retention={"days": 30, "warn_days": 20})
    client = connect(running, KY)
    running.call(running.platform.hold)
    send(client, b"abc")
    deadline = time.monotonic() + 5
    while not running.locked(KY, DATA):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    age(running.outbox(KY) / DATA, 40)
    running.run(running.platform.sweep())
    assert (running.outbox(KY) / DATA).exists()
    running.call(running.platform.release)
    running.wait_idle()
    assert (running.inbox(LIS1) / DATA).read_bytes() == b"abc"


def test_a_failing_callback_is_logged_not_raised(make_platform, caplog):
    def broken(**kwargs):
        raise RuntimeError("mail server down")
    running = make_platform(retention={"days": 30, "warn_days": 20}, on_retention_warning=broken)
    path = running.outbox(KY) / "aging.csv"
    path.write_bytes(b"x")
    age(path, 25)
    running.run(running.platform.sweep())
    assert "retention warning callback failed" in caplog.text
