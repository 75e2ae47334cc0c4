"""Missing extracts at the LIS (issue #14): an overdue expectation fires once, its arrival clears it.

Time is a fake clock passed to the watch; deliveries are real, through the simulator.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta

from sf1630 import hookimpl
from sf1630.config.load import load_config
from sf1630.events import Missing, Recorder, plugin_emitter
from sf1630.receive.expect import Expected, MissingWatch, expectations
from sf1630.journal import open_journal
from sf1630.ops.metrics import Metrics
from sf1630.plugins import make_plugin_host
from sf1630.agent.runtime import build_runtime

from .conftest import IKAST, FakeClock, cli, edit_toml, journal_path, receive, send

DAY = 86400.0


def daily_at(when: datetime) -> str:
    """A cron expression firing every day at ``when``'s hour and minute."""
    return f"{when.minute} {when.hour} * * *"


def watch_once(agent_toml, clock, *emitters):
    """One check by a freshly started watch (as after a restart); the events it emitted."""
    recorder = Recorder()

    async def go():
        rt = build_runtime(load_config(agent_toml), command="run", emitters=[recorder, *emitters])
        try:
            return MissingWatch(rt.journal, rt.emit, clock=clock).check(expectations(rt.config, rt.host))
        finally:
            await rt.aclose()

    assert asyncio.run(go()) == recorder.of(Missing)
    return recorder.of(Missing)


def test_an_overdue_extract_fires_once_then_its_arrival_clears_it_once(world, webhook):
    start = time.time()
    due = datetime.fromtimestamp(start) - timedelta(minutes=30)  # daily, due 30 min ago plus 10 min grace
    lis = world.lis(expect=[{"source": "ky", "schedule": daily_at(due), "grace": "10m"}])
    edit_toml(lis, lambda doc: doc.update(alerts={"webhook": {"url": webhook.url}}))
    with open_journal(journal_path(lis)) as journal:
        metrics = Metrics(journal)
    clock = FakeClock(start)

    [missing] = watch_once(lis, clock, metrics)
    clock.advance(60)
    later = watch_once(lis, clock, metrics)  # a later round, and a restart: never again
    again = watch_once(lis, clock, metrics)

    deadline = due.replace(second=0, microsecond=0) + timedelta(minutes=10)
    assert (later, again, missing.cleared) == ([], [], False)
    e = missing.expectation
    assert (e.municipality, e.source, e.deadline, e.grace_seconds) == (IKAST.key, "ky", deadline, 600)
    overdue = json.loads(cli("status", "--config", str(lis), "--json").stdout)["overdue"]
    assert [(o["municipality"], o["source"]) for o in overdue] == [(IKAST.key, "ky")]
    assert f'sf1630_missing_extracts{{municipality="{IKAST.key}",source="ky"}} 1' in metrics.render()

    # The extract comes after all: one `cleared` event naming it, then nothing more.
    summary, _ = send(world.sender())
    world.wait_idle()
    receive(lis)
    clock.now = time.time() + 1
    [arrived] = watch_once(lis, clock, metrics)
    assert watch_once(lis, clock, metrics) == []

    [sent] = summary.transfers
    assert arrived.cleared and arrived.expectation.deadline == deadline
    assert arrived.expectation.arrived_file == sent.file_name and arrived.expectation.arrived_uuid
    assert json.loads(cli("status", "--config", str(lis), "--json").stdout)["overdue"] == []
    text = metrics.render()
    assert f'sf1630_missing_extracts{{municipality="{IKAST.key}",source="ky"}} 0' in text
    assert 'sf1630_events_total{event="missing"} 1' in text and 'sf1630_events_total{event="missing_cleared"} 1' in text
    bodies = webhook.wait_for(2)
    assert [b["event"] for b in bodies] == ["extract_missing", "extract_arrived"]
    assert bodies[1]["facts"]["file"] == sent.file_name and "has not arrived" in bodies[0]["summary"]

    # The next day's deadline: that delivery was the late one, so the next extract is missing again.
    clock.advance(DAY)
    [next_day] = watch_once(lis, clock)
    assert not next_day.cleared and next_day.expectation.deadline == deadline + timedelta(days=1)


def test_an_extract_that_arrives_in_time_fires_nothing(world):
    soon = datetime.fromtimestamp(time.time()) + timedelta(minutes=5)
    lis = world.lis(expect=[{"source": "ky", "schedule": daily_at(soon), "grace": 0}])
    send(world.sender())
    world.wait_idle()
    receive(lis)
    clock = FakeClock(soon.timestamp() + 120)  # past the deadline: the delivery came before it

    assert watch_once(lis, clock) == []
    clock.advance(DAY)  # a day on, the next one is due and has not come
    [missing] = watch_once(lis, clock)
    assert not missing.cleared


def test_hook_sf1630_on_missing(tmp_path):
    calls = []

    class Probe:
        @hookimpl
        def sf1630_on_missing(self, expectation, cleared):
            calls.append((expectation.municipality, expectation.source, cleared, expectation.arrived_file))

    host = make_plugin_host(builtins=False, entry_points=False)
    host.add(Probe(), "probe", "test")
    clock = FakeClock(time.time())
    due = datetime.fromtimestamp(clock.now) - timedelta(minutes=30)
    expected = Expected("ikast-brande", "ky", daily_at(due), 600.0, frozenset({"ky"}))
    with open_journal(tmp_path / "journal.sqlite") as journal:
        watch = MissingWatch(journal, plugin_emitter(host), clock=clock)
        watch.check([expected])
        watch.check([expected])
        t, _ = journal.claim("receive", "lis:uuid-1", municipality="ikast-brande", source="ky", account="lis",
                             file_name="KY_LIS_11111111_M03_20310405080000.csv", file_transfer_uuid="uuid-1")
        clock.advance(60)
        watch.check([expected])

    assert calls == [("ikast-brande", "ky", False, None),
                     ("ikast-brande", "ky", True, "KY_LIS_11111111_M03_20310405080000.csv")]


def test_sf1630_run_checks_expectations_after_each_receive_round(world):
    from sf1630.agent.scheduler import Scheduler

    moved = timedelta(days=3)  # the scheduler's clock runs three days ahead: the daily deadline passed
    due = datetime.now() + timedelta(hours=1)
    lis = world.lis(expect=[{"source": "ky", "schedule": daily_at(due), "grace": "1h"}])
    recorder = Recorder()

    async def go():
        rt = build_runtime(load_config(lis), emitters=[recorder])
        stop = asyncio.Event()
        task = asyncio.create_task(Scheduler(rt, stop, clock=lambda: datetime.now() + moved).run())
        for _ in range(200):
            if recorder.of(Missing) or task.done():
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 10)
        await rt.aclose()

    asyncio.run(go())
    [missing] = recorder.of(Missing)
    expected = (due + moved - timedelta(days=1)).replace(second=0, microsecond=0) + timedelta(hours=1)
    assert missing.expectation.deadline == expected
    with open_journal(journal_path(lis)) as journal:
        assert [r.deadline for r in journal.list_missing(open_only=True)] == [expected.timestamp()]


def test_sf1630_receive_says_what_is_overdue_once(world):
    due = datetime.now() - timedelta(hours=2)
    lis = world.lis(expect=[{"source": "ky", "schedule": daily_at(due), "grace": "1h"}])

    first = cli("receive", "--config", str(lis))
    second = cli("receive", "--config", str(lis))

    deadline = (due.replace(second=0, microsecond=0) + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert f"{IKAST.key}: ky extract due by {deadline} has not arrived (see sf1630 status)" in first.stdout
    assert "has not arrived" in first.stderr  # the log's warning
    assert "extract due" not in second.stdout


def test_missing_extracts_is_1_while_overdue_however_many_deadlines_passed_and_0_once_arrived(world):
    start = time.time()
    due = datetime.fromtimestamp(start) - timedelta(minutes=30)
    lis = world.lis(expect=[{"source": "ky", "schedule": daily_at(due), "grace": "10m"}])
    with open_journal(journal_path(lis)) as journal:
        metrics = Metrics(journal)
    clock = FakeClock(start - 3 * DAY)
    gauge = f'sf1630_missing_extracts{{municipality="{IKAST.key}",source="ky"}}'

    for _ in range(4):  # four daily deadlines pass with nothing arrived
        assert [m.cleared for m in watch_once(lis, clock, metrics)] == [False]
        clock.advance(DAY)
    assert f"{gauge} 1\n" in metrics.render()
    with open_journal(journal_path(lis)) as journal:
        assert f"{gauge} 1\n" in Metrics(journal).render()  # the same after a restart

    send(world.sender())
    world.wait_idle()
    receive(lis)
    clock.now = time.time() + 1
    assert [m.cleared for m in watch_once(lis, clock, metrics)] == [True] * 4
    assert f"{gauge} 0\n" in metrics.render()
    assert json.loads(cli("status", "--config", str(lis), "--json").stdout)["overdue"] == []
