"""The soak (issue #5): thousands of deliveries through faults and kills, then the totals.

Five sources send for many municipalities to two LIS vendors (each municipality's LIS user belongs
to one of them) through the platform simulator. Every network operation passes the fault proxy,
which injects a random fault (cut, cut after some bytes, stall, refused connections) about every
``fault_every`` client messages. Meanwhile the sending agent, the LIS agents and the simulator are
SIGKILLed at random moments and started again. At the end: every extract delivered once, every
row loaded once, nothing left on the server or in a spool, every journal story in order.

Long form (figures in docs/RELIABILITY.md):

    python -m tests.reliability.soak --deliveries 2000 --municipalities 20 --report soak.md

The short form runs in CI as tests/reliability/test_soak.py.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sf1630.simulator.sandbox import FIVE_SOURCES, LisMunicipality, Sandbox
from sf1630.testing.faultproxy import FaultProxy, wait_for

from .world import PlatformProcess, Process, Totals, check_totals, peek

LIS_VENDORS = ("LIS01", "LIS02")


@dataclass
class SoakConfig:
    """What one soak run does."""

    workdir: Path
    deliveries: int = 200
    municipalities: int = 10
    rows: int = 20
    fault_every: float = 20.0
    sender_kills: int = 2
    lis_kills: int = 2
    platform_kills: int = 1
    seed: int = 1630

    @property
    def periods(self) -> int:
        per_round = self.municipalities * len(FIVE_SOURCES)
        return -(-self.deliveries // per_round)


@dataclass
class Kill:
    """One SIGKILL: of what, when, and the transfers it interrupted (journal ids)."""

    what: str
    at: float
    open_sends: list[int] = field(default_factory=list)
    open_receives: dict[str, list[int]] = field(default_factory=dict)
    recovered_in: float | None = None


@dataclass
class SoakResult:
    """Figures of a run."""

    config: SoakConfig
    totals: Totals
    faults: Counter = field(default_factory=Counter)
    refused: int = 0
    messages: int = 0
    kills: list[Kill] = field(default_factory=list)
    seconds: float = 0.0
    send_runs: int = 0

    @property
    def ok(self) -> bool:
        return not self.totals.problems and self.totals.sent >= self.config.deliveries


class Soak:
    """The world of a soak run and the loop that drives it."""

    def __init__(self, config: SoakConfig):
        self.config, self.rng = config, random.Random(config.seed)
        root = config.workdir
        self.municipalities = tuple(
            LisMunicipality(f"m{i:03d}", f"Kommune {i}", f"{30000000 + i}",
                            f"M{i:03d}_{LIS_VENDORS[i % 2]}_SIMPEL") for i in range(config.municipalities))
        self.sandbox = Sandbox(root, sources=FIVE_SOURCES, municipalities=self.municipalities)
        self.platform = PlatformProcess(self.sandbox, root / "run", settle_seconds=0).start()
        self.proxy = FaultProxy.start_thread("127.0.0.1", self.platform.port)
        self.sandbox.trust(self.proxy.port)
        self.sender = self.sandbox.write_agent("sender", receive=False, rows=config.rows,
                                               agent={"receipt_timeout": 600})
        self.lis: dict[str, tuple[Path, Path]] = {}
        for n, vendor in enumerate(LIS_VENDORS):
            mine = tuple(m for m in self.municipalities if m.lis_user.endswith(f"_{vendor}_SIMPEL"))
            database = root / vendor.lower() / "lis.sqlite3"
            agent = self.sandbox.write_agent(vendor.lower(), send=False, municipalities=mine,
                                             sinks=[{"type": "sqlite", "options": {"path": str(database)}}])
            self.lis[vendor] = (agent, database)
        self.lis_runs = {vendor: self._run_lis(vendor) for vendor in LIS_VENDORS}
        self.kills: list[Kill] = []
        self.send_runs = 0

    def _run_lis(self, vendor: str) -> Process:
        agent, _ = self.lis[vendor]
        return Process(["--log-level", "INFO", "run", "--config", str(agent)], agent.parent / "run.log").start()

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> SoakResult:
        started = time.monotonic()
        cfg = self.config
        plan = self._plan()
        self.proxy.chaos(cfg.fault_every, random.Random(cfg.seed + 1))
        try:
            left: list[str] = []
            for number in range(1, cfg.periods + 1):
                left = self._send_period(f"S{number:03d}", left + plan.get(number, []))
                print(f"{time.monotonic() - started:6.1f} s period {number}/{cfg.periods}: "
                      f"{self._count('send', 'delivered')} delivered, "
                      f"{self._loaded()} loaded, faults {dict(self.proxy.faults)}", flush=True)
            self.proxy.chaos(None)
            self._finish()
            print(f"{time.monotonic() - started:6.1f} s finished: {self._loaded()} loaded", flush=True)
        finally:
            self._stop()
        return self._result(time.monotonic() - started)

    def _plan(self) -> dict[int, list[str]]:
        """Which period sees which kills."""
        cfg, plan = self.config, {}
        for what, count in (("sender", cfg.sender_kills), ("lis", cfg.lis_kills), ("platform", cfg.platform_kills)):
            for _ in range(count):
                plan.setdefault(self.rng.randrange(1, max(2, cfg.periods)), []).append(what)
        return plan

    def _send_period(self, period: str, kills: list[str]) -> list[str]:
        """Send one period until every extract of it is delivered; returns the kills not done yet."""
        per_round = self.config.municipalities * len(FIVE_SOURCES)
        for attempt in range(20):
            agent = Process(["--log-level", "INFO", "send", "--config", str(self.sender), "--period", period],
                            self.sender.parent / "send.log").start()
            self.send_runs += 1
            while kills and agent.running:
                # Kill in the middle of the run: once a random share of the period's extracts is delivered.
                target = self.rng.randrange(1, max(2, per_round - 1))
                try:
                    wait_for(lambda: not agent.running or self._delivered(period) >= target, timeout=300,
                             every=0.02)
                except TimeoutError:
                    pass
                if agent.running:
                    getattr(self, f"_kill_{kills.pop()}")(agent)
            status = agent.wait(900)
            if status == 0:
                return kills
        raise RuntimeError(f"period {period} still not delivered after 20 send runs; see {agent.log}")

    def _delivered(self, period: str) -> int:
        rows = peek(self.sender, "SELECT count(*) FROM transfers WHERE period = ? AND state = 'delivered'", (period,))
        return rows[0][0] if rows else 0

    # -- kills ----------------------------------------------------------------------------------
    def _kill_sender(self, agent: Process) -> None:
        kill = Kill("sender", time.time(), open_sends=self._open("send"))
        agent.kill()
        self.kills.append(kill)

    def _kill_lis(self, agent: Process) -> None:
        vendor = self.rng.choice(LIS_VENDORS)
        kill = Kill(f"lis {vendor}", time.time(), open_receives={vendor: self._open("receive", vendor)})
        self.lis_runs[vendor].kill()
        self.kills.append(kill)
        time.sleep(self.rng.uniform(0.1, 1.0))
        self.lis_runs[vendor] = self._run_lis(vendor)

    def _kill_platform(self, agent: Process) -> None:
        kill = Kill("platform", time.time(), open_sends=self._open("send"))
        self.platform.kill()
        self.kills.append(kill)
        time.sleep(self.rng.uniform(0.2, 1.5))
        self.platform.start()

    def _open(self, kind: str, vendor: str | None = None) -> list[int]:
        agent = self.sender if kind == "send" else self.lis[vendor][0]
        done = "delivered" if kind == "send" else "loaded"
        return [row[0] for row in peek(agent, "SELECT id FROM transfers WHERE kind = ? AND state != ?", (kind, done))]

    # -- the end ----------------------------------------------------------------------------------
    def _finish(self) -> None:
        """Without faults: finish every send, then wait until the LIS agents loaded everything."""
        for _ in range(5):
            last = Process(["--log-level", "INFO", "send", "--config", str(self.sender), "--period",
                            f"S{self.config.periods:03d}"], self.sender.parent / "send.log").start()
            if last.wait(900) == 0:
                break
        wait_for(lambda: not self.platform.in_flight(), timeout=120, every=0.2)
        expected = self._count("send", "delivered")
        wait_for(lambda: self._loaded() >= expected and not self._inbox_files(), timeout=600, every=0.5)

    def _count(self, kind: str, state: str) -> int:
        agent = self.sender
        return peek(agent, "SELECT count(*) FROM transfers WHERE kind = ? AND state = ?", (kind, state))[0][0] \
            if peek(agent, "SELECT 1") else 0

    def _loaded(self) -> int:
        return sum((peek(a, "SELECT count(*) FROM transfers WHERE state = 'loaded'") or [(0,)])[0][0]
                   for a, _ in self.lis.values())

    def _inbox_files(self) -> list[str]:
        return [n for m in self.municipalities for n in self.platform.files(m.lis_user, "IN")]

    def _stop(self) -> None:
        for run in self.lis_runs.values():
            if run.running:
                run.stop()
        self.proxy.close()
        if self.platform.running:
            self.platform.stop()

    def _result(self, seconds: float) -> SoakResult:
        totals = check_totals([self.sender], list(self.lis.values()), self.platform.root)
        for kill in self.kills:
            kill.recovered_in = self._recovery(kill)
        return SoakResult(self.config, totals, Counter(self.proxy.faults), self.proxy.faults["refused"],
                          self.proxy.messages, self.kills, seconds, self.send_runs)

    def _recovery(self, kill: Kill) -> float | None:
        """Seconds from the kill until every transfer it interrupted was finished and the killed part
        had finished a transfer again (the sender or the platform: a delivery; a LIS agent: a load)."""
        ends = []
        parts = [(self.sender, kill.open_sends)] + [(self.lis[v][0], i) for v, i in kill.open_receives.items()]
        for agent, ids in parts:
            for transfer_id in ids:
                rows = peek(agent, "SELECT max(at) FROM history WHERE transfer_id = ? AND state IN "
                                   "('delivered', 'loaded')", (transfer_id,))
                if rows and rows[0][0]:
                    ends.append(rows[0][0])
        agent = self.lis[kill.what.split()[1]][0] if kill.what.startswith("lis") else self.sender
        first = peek(agent, "SELECT min(at) FROM history WHERE at > ? AND state IN ('delivered', 'loaded')",
                     (kill.at,))
        if first and first[0][0]:
            ends.append(first[0][0])
        return max(ends) - kill.at if ends else None


def run_soak(config: SoakConfig) -> SoakResult:
    """Build the world in ``config.workdir``, run the soak and return its figures."""
    return Soak(config).run()


def report(result: SoakResult) -> list[str]:
    """The figures as Markdown lines (for docs/RELIABILITY.md)."""
    t, cfg = result.totals, result.config
    faults = {k: v for k, v in sorted(result.faults.items()) if k != "refused"}
    lines = [f"| deliveries (extracts delivered and loaded) | {t.sent} sent, {t.loaded} loaded, {t.rows} rows |",
             f"| sources, municipalities, LIS vendors | 5, {cfg.municipalities}, {len(LIS_VENDORS)} |",
             f"| client messages through the proxy | {result.messages} |",
             f"| faults injected (chance 1/{cfg.fault_every:g} per message after the connect) | "
             f"{sum(faults.values())}: " + ", ".join(f"{k} {v}" for k, v in faults.items()) + f"; connections refused {result.refused} |",
             f"| kills (SIGKILL) | {len(result.kills)}: "
             + ", ".join(f"{k} {v}" for k, v in sorted(Counter(k.what.split()[0] for k in result.kills).items()))
             + " |",
             f"| files lost | {t.lost} |",
             f"| files loaded twice | {t.duplicated_files} |",
             f"| rows duplicated | {t.duplicated_rows} |",
             f"| files left behind (server, spools) | {len(t.leftovers)} |",
             f"| send runs (`sf1630 send --period`) | {result.send_runs} |",
             f"| wall time | {result.seconds:.0f} s |"]
    for kind in ("sender", "lis", "platform"):
        times = [k.recovered_in for k in result.kills if k.what.startswith(kind) and k.recovered_in is not None]
        if times:
            lines.append(f"| time to recover after a kill of the {KILLED[kind]} | "
                         f"median {statistics.median(times):.1f} s, max {max(times):.1f} s ({len(times)} kills) |")
    return ["| figure | value |", "|---|---|", *lines]


KILLED = {"sender": "sending agent", "lis": "LIS agents", "platform": "simulator"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--municipalities", type=int, default=20)
    parser.add_argument("--rows", type=int, default=20, help="rows per extract")
    parser.add_argument("--fault-every", type=float, default=20.0, help="client messages per injected fault")
    parser.add_argument("--kills", type=int, default=4, help="SIGKILLs of the sender and of the LIS agents each")
    parser.add_argument("--platform-kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1630)
    parser.add_argument("--workdir", type=Path, help="default: a new temporary folder, kept")
    parser.add_argument("--report", type=Path, help="also write the figures as Markdown here")
    args = parser.parse_args(argv)
    import tempfile

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sf1630-soak-"))
    config = SoakConfig(workdir, args.deliveries, args.municipalities, args.rows, args.fault_every,
                        args.kills, args.kills, args.platform_kills, args.seed)
    result = run_soak(config)
    lines = report(result)
    print("\n".join(lines))
    for problem in result.totals.problems[:50]:
        print("PROBLEM:", problem)
    if args.report:
        args.report.write_text("\n".join(lines) + "\n")
    print(f"work folder: {workdir}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
