"""The platform simulator killed in the middle of a route, then restarted (issue #5).

The simulator runs as ``sf1630 platform serve`` and is SIGKILLed while a route's record is in its
journal (the decision taken, receipt, data and metadata not all published). The sender keeps
waiting through the outage; the restarted simulator finishes the route from its journal; every
extract arrives once with every row and nothing is left on the server.
"""

from __future__ import annotations

import time

from sf1630.simulator.sandbox import Sandbox
from sf1630.testing.faultproxy import wait_for

from .conftest import AULA, HERNING, IKAST, KY, sf1630
from .world import PlatformProcess, Process, check_totals, states


def test_platform_killed_mid_route_finishes_the_route_after_a_restart(tmp_path):
    sandbox = Sandbox(tmp_path, sources=(KY, AULA), municipalities=(IKAST, HERNING))
    platform = PlatformProcess(sandbox, tmp_path / "run", settle_seconds=0).start()
    try:
        sandbox.trust(platform.port)
        database = tmp_path / "lis.sqlite3"
        sender = sandbox.write_agent("source-vendor", receive=False, rows=40_000, agent={"receipt_timeout": 120})
        lis = sandbox.write_agent("lis-vendor", send=False,
                                  sinks=[{"type": "sqlite", "options": {"path": str(database)}}])
        agent = Process(["--log-level", "INFO", "send", "--config", str(sender)], tmp_path / "send.log").start()

        wait_for(platform.in_flight, timeout=60, every=0.001)  # a route is under way
        assert platform.kill() == -9
        left = platform.in_flight()
        assert left, "the kill should land inside a route"
        time.sleep(1.0)  # the sender sees the platform gone meanwhile
        platform.start()

        assert agent.wait(120) == 0, agent.output()[-3000:]
        assert "left by an earlier run" in platform.output()
        wait_for(lambda: not platform.in_flight() and not any(
            platform.files(s.user, "OUT") for s in (KY, AULA)), timeout=30)
        received = sf1630("receive", "--config", str(lis))
        assert received.returncode == 0, received.stdout + received.stderr
    finally:
        platform.stop()

    assert states(sender, "send") == {"delivered": 4} and states(lis, "receive") == {"loaded": 4}
    totals = check_totals([sender], [(lis, database)], platform.root)
    assert totals.problems == [], "\n".join(totals.problems)
    assert totals.rows == 4 * 40_000
