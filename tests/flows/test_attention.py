"""What needs attention shows in ``sf1630 status`` (text, JSON, --check) until it is resolved (issue #17)."""

from __future__ import annotations

import json

from .conftest import AULA, IKAST, KY, edit_toml, journal_rows, run_send, sf1630


def _status(agent, *extra):
    return sf1630("status", "--config", str(agent), *extra)


def test_error_receipts_400_and_401_need_attention_until_the_period_is_delivered(make_platform, make_agent_config):
    platform = make_platform(sources=(KY, AULA), municipalities=(IKAST,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=3)
    municipality = sender.parent / "municipalities" / "ikast-brande.toml"

    def break_both(doc):
        doc["send"][0]["recipients"] = ["NOBODY_LIS01_SIMPEL"]  # 400: not a known user
        del doc["send"][1]["route"]["recipient_it_system"]  # and KOMBIT has no route yet: 401

    edit_toml(municipality, break_both)
    routes = list(platform.platform.config.routes)
    platform.platform.config.routes.clear()

    first, _ = run_send(sender)
    assert sorted(t.state for t in first.transfers) == ["cleaned", "cleaned"]
    no_route = next(t for t in first.transfers if t.source == "aula").error
    assert no_route.startswith("401 No route") and "None" not in no_route and "no RecipientIt-system" in no_route

    report = json.loads(_status(sender, "--json").stdout)
    assert sorted(f["file_name"] for f in report["failures"]) == sorted(t.file_name for t in first.transfers)
    kinds = {(a["source"], a["kind"]) for a in report["attention"]}
    assert kinds == {("ky", "send_failed"), ("aula", "send_failed")}
    ky = next(a for a in report["attention"] if a["source"] == "ky")
    assert "400 A recipient is not a known SFTP user" in ky["message"]
    period = next(t.period for t in first.transfers if t.source == "ky")
    assert ky["resolve"].startswith(f"sf1630 send --municipality ikast-brande --source ky --period {period}")
    check = _status(sender, "--check")
    assert check.returncode == 1 and "Needs attention (2)" in check.stdout and "resolve: sf1630 send" in check.stdout
    assert "Failures (2)" in _status(sender).stdout

    # The route is set up and the recipient fixed: the next send makes a new delivery of the period.
    edit_toml(municipality, lambda doc: doc["send"][0].update(recipients=[IKAST.lis_user]))
    platform.platform.config.routes.extend(routes)
    second, _ = run_send(sender)
    assert sorted(t.state for t in second.transfers) == ["delivered", "delivered"]
    assert {t.period for t in second.transfers} == {t.period for t in first.transfers}

    check = _status(sender, "--check")
    assert check.returncode == 0 and check.stdout == "Needs attention: nothing\n"
    report = json.loads(_status(sender, "--json").stdout)
    assert report["attention"] == [] and report["failures"] == []
    assert len(journal_rows(sender, "send")) == 4


def test_send_catch_up_sends_the_failed_period_and_with_since_every_period_not_delivered(make_platform,
                                                                                          make_agent_config):
    platform = make_platform(sources=(KY, AULA), municipalities=(IKAST,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=3)
    routes = list(platform.platform.config.routes)
    platform.platform.config.routes.clear()
    first, _ = run_send(sender)
    [failed] = [t for t in first.transfers if t.state == "cleaned"]
    platform.platform.config.routes.extend(routes)

    caught = sf1630("send", "--config", str(sender), "--catch-up", "--source", "aula")
    assert caught.returncode == 0, caught.stderr
    sends = journal_rows(sender, "send")
    assert [t.period for t in sends if t.source == "aula" and t.state == "delivered"] == [failed.period]
    assert _status(sender, "--check").returncode == 0

    current = next(t.period for t in first.transfers if t.source == "ky")
    since = f"M{(int(current[1:]) - 3) % 12 + 1:02d}"  # two months before the current one
    caught = sf1630("send", "--config", str(sender), "--catch-up", "--since", since, "--source", "ky")
    assert caught.returncode == 0, caught.stderr
    ky = [t.period for t in journal_rows(sender, "send") if t.source == "ky" and t.state == "delivered"]
    assert len(ky) == 3 and set(ky) == {since, f"M{(int(current[1:]) - 2) % 12 + 1:02d}", current}
    wrong = sf1630("send", "--config", str(sender), "--since", since)
    assert wrong.returncode != 0 and "--since goes with --catch-up" in wrong.stderr


def test_a_send_that_fails_for_a_local_reason_needs_attention_until_it_gets_on(make_platform, make_agent_config):
    from sf1630.config.load import load_config

    platform = make_platform(sources=(KY,), municipalities=(IKAST,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=3)
    key = load_config(sender).accounts["KY"].keys[0]
    key.rename(key.with_name(key.name + ".away"))  # the key is gone: no platform problem, a local one

    sf1630("send", "--config", str(sender))
    check = _status(sender, "--check")
    assert check.returncode == 1, check.stdout
    report = json.loads(_status(sender, "--json").stdout)
    [stuck] = report["attention"]
    assert stuck["kind"] == "work_stuck" and stuck["source"] == "ky" and key.name in stuck["message"]
    assert "fix the cause" in stuck["resolve"]

    key.with_name(key.name + ".away").rename(key)
    again, _ = run_send(sender)
    assert [t.state for t in again.transfers] == ["delivered"]
    check = _status(sender, "--check")
    assert check.returncode == 0 and check.stdout == "Needs attention: nothing\n"
