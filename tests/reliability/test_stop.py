"""SIGTERM stops `sf1630 run` cleanly in every state (issue #25): exit 0, no traceback, nothing lost.

A real `sf1630 run` process is stopped while idle, sending, receiving, waiting to retry a platform
that refuses connections, and waiting for a receipt. Each time it must exit 0 within seconds with
no traceback, and leave its work journalled so that the next start finishes it.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from sf1630.core.steps import CRASH_ENV
from sf1630.testing.faultproxy import wait_for

from flows.conftest import edit_toml

from .conftest import sf1630
from .test_kills import SEND_STORY, _finish, _start, _state
from .world import Process, free_port, stories

STOP_WITHIN = 15.0  # seconds from SIGTERM to exit, the longest a state may take here


@pytest.fixture
def run():
    """Start `sf1630 run` for an agent file and wait until its scheduler is up; killed if left running."""
    started: list[Process] = []

    def start(agent_toml: Path) -> Process:
        agent = _start(agent_toml, "run")
        started.append(agent)
        wait_for(lambda: "running " in agent.output(), timeout=20)
        return agent

    yield start
    for agent in started:
        if agent.running:
            agent.kill()


def _stop(agent: Process, sig: int = signal.SIGTERM) -> str:
    """Signal the agent; assert it exits 0 in time with no traceback; its output."""
    assert agent.running, agent.output()
    agent.proc.send_signal(sig)
    try:
        code = agent.wait(STOP_WITHIN)
    except subprocess.TimeoutExpired:
        agent.kill()
        raise AssertionError(f"still running {STOP_WITHIN} s after the signal:\n{agent.output()}") from None
    out = agent.output()
    assert code == 0, out
    assert "Traceback" not in out, out
    return out


def _left_extracted(world) -> None:
    """An unfinished send in the journal (a `send` ended right after the extract) for `run` to resume."""
    done = sf1630("send", "--config", str(world.sender), env={CRASH_ENV: "extracted"})
    assert done.returncode == 137, done.stdout + done.stderr


def test_stopped_while_idle(make_world, run):
    world = make_world(rows=3)
    agents = [run(world.sender), run(world.lis)]
    time.sleep(0.5)

    for agent in agents:
        assert "stopped" in _stop(agent)
    assert _state(world.sender, "send") == [] and _state(world.lis, "receive") == []


def test_stopped_by_sigint_while_idle(make_world, run):
    world = make_world(rows=3)
    agent = run(world.lis)

    assert "stopped" in _stop(agent, signal.SIGINT)


def test_stopped_while_sending(make_world, run):
    world = make_world(rows=5000)  # about 650 kB
    _left_extracted(world)
    world.proxy.stall(after=200_000, direction="up", seconds=2.0)  # the upload is under way meanwhile
    agent = run(world.sender)

    wait_for(lambda: world.proxy.faults["stall"])
    _stop(agent)
    # The upload that was under way finished and was journalled; nothing after it was started.
    assert _state(world.sender, "send") == ["data_uploaded"]
    _finish(world)
    assert list(stories(world.sender, "send").values()) == [SEND_STORY]


def test_stopped_while_receiving(make_world, run):
    world = make_world(rows=20_000)  # about 2.6 MB
    assert sf1630("send", "--config", str(world.sender)).returncode == 0
    world.platform.wait_idle()
    world.proxy.stall(after=world.proxy.bytes_down + 1_000_000, direction="down", seconds=2.0)
    agent = run(world.lis)

    wait_for(lambda: world.proxy.faults["stall"])
    _stop(agent)
    assert _state(world.lis, "receive") == ["downloaded"]  # the download finished; nothing after it began
    _finish(world, send=False)


def test_stopped_while_waiting_to_retry_a_platform_that_is_down(make_world, run):
    world = make_world(rows=3)
    _left_extracted(world)
    closed = free_port()  # nothing listens there: every connect is refused
    for config in (world.sender, world.lis):
        edit_toml(config, lambda doc: doc["environments"]["local"].update(port=closed))
    agents = [run(world.sender), run(world.lis)]

    for agent in agents:
        wait_for(lambda: "retry 1 in" in agent.output(), timeout=20)
    for agent in agents:
        _stop(agent)
    assert _state(world.sender, "send") == ["extracted"]  # left for the next start


def test_stopped_while_waiting_for_the_receipt(make_world, run):
    world = make_world(rows=3)
    _left_extracted(world)
    world.platform.loop.call_soon_threadsafe(world.platform.platform.hold)  # no receipt until released
    agent = run(world.sender)

    wait_for(lambda: _state(world.sender, "send") == ["trigger_uploaded"])
    time.sleep(0.3)
    _stop(agent)
    assert _state(world.sender, "send") == ["trigger_uploaded"]
    world.platform.loop.call_soon_threadsafe(world.platform.platform.release)

    _finish(world)
    assert list(stories(world.sender, "send").values()) == [SEND_STORY]
