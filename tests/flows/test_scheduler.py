"""``sf1630 run``'s scheduler: jobs on their cron schedule, a missed run once, never a period twice."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

from sf1630.agent.scheduler import Scheduler, seconds_until

from .conftest import AULA, IKAST, KY, journal_rows


def test_seconds_until_the_next_fire_time():
    last = datetime(2026, 3, 31, 23, 0)
    assert seconds_until("0 2 1 * *", last, datetime(2026, 4, 1, 1, 0)) == 3600
    assert seconds_until("0 2 1 * *", last, datetime(2026, 4, 2, 0, 0)) == 0  # missed: due now


class FakeClock:
    """Real time plus an offset the test moves forward."""

    def __init__(self):
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now() + self.offset


def _run_scheduler(agent_toml, until):
    """Run the scheduler, jump its clock 40 days (past every monthly fire time), stop when ``until()``.

    Returns the events recorded meanwhile."""
    from sf1630.config.load import load_config
    from sf1630.events import Recorder
    from sf1630.agent.runtime import build_runtime

    recorder = Recorder()

    async def go():
        rt = build_runtime(load_config(agent_toml), emitters=[recorder])
        stop, clock = asyncio.Event(), FakeClock()
        scheduler = Scheduler(rt, stop, clock=clock)
        clock.offset = timedelta(days=40)
        task = asyncio.create_task(scheduler.run())
        deadline = time.monotonic() + 20
        while not until() and time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 10)
        await rt.aclose()

    asyncio.run(go())
    return recorder


def test_due_jobs_run_once_and_a_restart_does_not_send_the_period_again(make_platform, make_agent_config,
                                                                         caplog):
    platform = make_platform(sources=(KY, AULA), municipalities=(IKAST,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=3)
    caplog.set_level(logging.INFO, logger="sf1630.sender")

    def delivered():
        journal = sender.parent / "state" / "journal.sqlite"
        return journal.exists() and sum(t.state == "delivered" for t in journal_rows(sender, "send")) == 2

    _run_scheduler(sender, delivered)
    first = journal_rows(sender, "send")
    assert sorted(t.state for t in first) == ["delivered", "delivered"]

    # Restarted later in the same period: the missed fire time is due, but the period was sent.
    _run_scheduler(sender, lambda: caplog.text.count("not sent again") == 2)
    assert caplog.text.count("not sent again") == 2
    assert sorted(t.id for t in journal_rows(sender, "send")) == sorted(t.id for t in first)
    platform.wait_idle()
    assert len(platform.files(IKAST.lis_user, "IN")) == 4


def test_run_retries_a_failed_period_until_the_route_exists_and_alerts_once(make_platform, make_agent_config):
    from sf1630.events import Failed
    from sf1630_plugins.alerts import message

    from .conftest import edit_toml

    platform = make_platform(sources=(AULA,), municipalities=(IKAST,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=3)
    edit_toml(sender, lambda doc: doc["agent"].update(retry_failed_seconds=1))
    routes = list(platform.platform.config.routes)
    platform.platform.config.routes.clear()  # KOMBIT has not set up the route yet: error receipt 401
    failed: list = []

    def route_then_delivered():
        sends = journal_rows(sender, "send") if (sender.parent / "state" / "journal.sqlite").exists() else []
        if any(t.state == "cleaned" for t in sends) and not platform.platform.config.routes:
            failed.extend(t for t in sends if t.state == "cleaned")
            platform.platform.config.routes.extend(routes)  # the route is set up
        return any(t.state == "delivered" for t in sends)

    recorder = _run_scheduler(sender, route_then_delivered)

    sends = journal_rows(sender, "send")
    [delivered] = [t for t in sends if t.state == "delivered"]
    assert failed and all(t.period == delivered.period for t in sends)
    assert all("401" in t.error for t in sends if t.state == "cleaned")
    keys = {message.failed(e.transfer, e.reason).key for e in recorder.of(Failed)}
    assert len(keys) == 1  # however many retries failed, one alert
    platform.wait_idle()
    assert len(platform.files(IKAST.lis_user, "IN")) == 2
