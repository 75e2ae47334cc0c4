"""Issue #21: SIGHUP makes a running `sf1630 run` read its configuration again, if it is valid.

A municipality added while the service runs has its scheduled send made after SIGHUP; a broken
file is refused with its error in the log, and the service keeps running the configuration it had.
"""

from __future__ import annotations

import signal
import tomllib
from pathlib import Path

import tomli_w

from sf1630.simulator.sandbox import FIVE_SOURCES, LisMunicipality, Sandbox
from sf1630.testing.faultproxy import wait_for

from .world import PlatformProcess, Process, sent_files

SOURCES = tuple(s for s in FIVE_SOURCES if s.source == "ky")
TOWNS = tuple(LisMunicipality(f"m{i:02d}", f"Kommune {i}", f"{33000000 + i}", f"M{i:02d}_LIS01_SIMPEL")
              for i in range(2))


def test_sighup_adds_a_municipality_and_a_broken_file_keeps_the_old_configuration(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, sources=SOURCES, municipalities=TOWNS)
    platform = PlatformProcess(sandbox, tmp_path / "platform", settle_seconds=0).start()
    sandbox.trust(platform.port)
    agent = sandbox.write_agent("sender", receive=False, rows=3, agent={"receipt_timeout": 120})
    added = agent.parent / "municipalities" / "m01.toml"
    doc = tomllib.loads(added.read_text())
    for send in doc["send"]:
        send["schedule"] = "* * * * *"  # fires at the next full minute
    text = tomli_w.dumps(doc)
    added.unlink()  # the service starts with m00 only (monthly: it sends nothing now)
    service = Process(["--log-level", "INFO", "run", "--config", str(agent)], agent.parent / "run.log").start()
    try:
        wait_for(lambda: "running 1 send job" in service.output(), timeout=60, every=0.1)
        added.write_text(text)
        service.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reloaded the configuration: 1 send job(s) started" in service.output(), timeout=30)
        wait_for(lambda: any(state == "delivered" for state, _ in sent_files(agent).values()), timeout=90, every=0.5)
        assert [n.split("_")[1] for n in sent_files(agent)] == ["LIS"] and len(sent_files(agent)) == 1
        assert len(platform.files(TOWNS[1].lis_user, "IN")) == 2  # the data file and its metadata

        added.write_text(text.replace('source = "ky"', 'source = "ky"\nschedule = "every tuesday"'))
        service.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload refused" in service.output(), timeout=30)
        assert "m01.toml" in service.output().split("reload refused")[1]
        added.write_text(text)  # mended: the service, still running, takes the file again
        service.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: service.output().count("reloaded the configuration") == 2, timeout=30)
        assert service.running
    finally:
        code = service.stop()
        platform.stop()
    assert code == 0, service.output()[-3000:]
