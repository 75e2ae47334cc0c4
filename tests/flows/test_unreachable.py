"""The platform unreachable: said as it is, bounded in one-shot commands, in status, metrics and alerts (issue #17)."""

from __future__ import annotations

import asyncio
import json
import socket
import time

from sf1630.events import Reachability, Recorder, Unreachable

from .conftest import IKAST, KY, edit_toml, run_send, sf1630


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once it is closed


def _point_to(agent, port: int, **settings) -> None:
    def change(doc):
        doc["environments"]["local"]["port"] = port
        doc["agent"].update(settings)

    edit_toml(agent, change)


def test_a_one_shot_send_gives_up_on_a_refused_platform_in_bounded_time_with_one_line(make_platform,
                                                                                      make_agent_config):
    platform = make_platform(sources=(KY,), municipalities=(IKAST,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=3)
    _point_to(sender, _closed_port(), give_up_seconds=4)

    began = time.monotonic()
    result = sf1630("send", "--config", str(sender))
    took = time.monotonic() - began

    assert result.returncode == 1 and took < 12, (took, result.stderr)
    errors = [line for line in result.stderr.splitlines() if " sf1630." in line]  # the agent's own log lines
    assert len(errors) == 1, result.stderr
    assert "KY: the platform is unreachable" in errors[0] and "connection refused" in errors[0]
    assert "gave up after" in errors[0] and "connection lost" not in result.stderr
    report = json.loads(sf1630("status", "--config", str(sender), "--json").stdout)
    [item] = [a for a in report["attention"] if a["kind"] == "platform_unreachable"]
    assert item["account"] == "KY" and "connection refused" in item["message"] and "sf1630 doctor" in item["resolve"]
    assert sf1630("status", "--config", str(sender), "--check").returncode == 1

    # The platform is back: the unfinished send resumes and the problem is gone.
    _point_to(sender, platform.port)
    summary, _ = run_send(sender)
    assert [t.state for t in summary.transfers] == ["delivered"]
    assert sf1630("status", "--config", str(sender), "--check").returncode == 0


def test_run_exports_platform_up_and_alerts_once_when_unreachable_too_long(make_platform, make_agent_config):
    from sf1630.config.load import load_config
    from sf1630.ops.metrics import Metrics
    from sf1630.agent.runtime import build_runtime
    from sf1630.agent.scheduler import Scheduler

    platform = make_platform(sources=(KY,), municipalities=(IKAST,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=3)
    _point_to(sender, _closed_port(), unreachable_alert_seconds=1)
    recorder = Recorder()

    async def go() -> str:
        metrics = Metrics()
        rt = build_runtime(load_config(sender), emitters=[recorder, metrics])
        metrics.attach(rt.journal)
        stop = asyncio.Event()
        task = asyncio.create_task(Scheduler(rt, stop).run())
        deadline = time.monotonic() + 20
        while not recorder.of(Unreachable) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        text = metrics.render()
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
        await rt.aclose()
        return text

    text = asyncio.run(go())
    assert 'sf1630_platform_up{environment="local",account="KY"} 0' in text
    [down] = recorder.of(Reachability)
    assert not down.up and "connection refused" in down.reason
    [alert] = recorder.of(Unreachable)
    assert alert.account == "KY" and "connection refused" in alert.reason
    assert 'sf1630_events_total{event="unreachable"} 1' in text
