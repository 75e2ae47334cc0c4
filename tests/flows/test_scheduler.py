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


def _run_scheduler(agent_toml, until) -> None:
    """Run the scheduler, jump its clock 40 days (past every monthly fire time), stop when ``until()``."""
    from sf1630.config.load import load_config
    from sf1630.agent.runtime import build_runtime

    async def go():
        rt = build_runtime(load_config(agent_toml))
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
