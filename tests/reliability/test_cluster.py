"""Issue #21: three `sf1630 run` processes of one site share a PostgreSQL journal, and survive.

The LIS site's processes receive and load a few hundred deliveries while one of them is SIGKILLed
several times (at random, and right after it took a delivery), another is SIGSTOPped for longer
than its lease and then woken (it must not act on the lease it lost), and the database drops
every connection of theirs (pg_terminate_backend: the PostgreSQL server here is shared with other
users, so it is not restarted). Afterwards every delivery is loaded exactly once and nothing is
left on the server. The source site's test does the same for sends.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from sf1630.simulator.sandbox import FIVE_SOURCES, LisMunicipality, Sandbox
from sf1630.testing.faultproxy import wait_for

from .world import PlatformProcess, Process, database_rows, sent_files, story_problems

SOURCES = tuple(s for s in FIVE_SOURCES if s.source in ("ky", "aula"))
LEASE = 4.0  # seconds; short, so that takeovers happen within the test


def municipalities(n: int) -> tuple[LisMunicipality, ...]:
    return tuple(LisMunicipality(f"m{i:02d}", f"Kommune {i}", f"{31000000 + i}", f"M{i:02d}_LIS01_SIMPEL")
                 for i in range(n))


class Site:
    """Processes of one site on a PostgreSQL journal, and looks into that journal."""

    def __init__(self, agent: Path, url: str, command: list[str], count: int = 3):
        self.agent, self.url, self.command = agent, url, command
        self.procs = [self._start(i) for i in range(count)]
        self.kills = 0

    def _start(self, i: int) -> Process:
        return Process(["--log-level", "INFO", *self.command, "--config", str(self.agent)],
                       self.agent.parent / f"run{i}.log").start()

    def ready(self, units: int, timeout: float = 60) -> None:
        """Until ``units`` units are held (the processes have migrated the journal and shared the work)."""
        def held() -> bool:
            try:
                return len(self.holders()) >= units
            except psycopg.errors.UndefinedTable:
                return False
        wait_for(held, timeout=timeout, every=0.2)

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.url, autocommit=True) as db:
            return db.execute(sql, params).fetchall()

    def holders(self) -> dict[str, int]:
        """Unit -> pid of the process holding its unexpired lease."""
        rows = self.rows("SELECT unit, holder FROM leases WHERE holder IS NOT NULL "
                         "AND expires_at > extract(epoch FROM clock_timestamp())")
        return {unit: int(holder.split(":")[1]) for unit, holder in rows}

    def index_of(self, pid: int) -> int:
        return next(i for i, p in enumerate(self.procs) if p.proc.pid == pid)

    def kill(self, i: int) -> tuple[float, set[str]]:
        """SIGKILL process ``i``; returns when, and the units it held."""
        held = {u for u, pid in self.holders().items() if pid == self.procs[i].proc.pid}
        self.procs[i].kill()
        self.kills += 1
        return time.monotonic(), held

    def restart(self, i: int) -> None:
        self.procs[i] = self._start(i)

    def taken_over(self, units: set[str], dead: int, since: float, timeout: float = 60) -> float:
        """Seconds from ``since`` until every unit of ``units`` has a live holder other than ``dead``."""
        wait_for(lambda: all(self.holders().get(u) not in (None, dead) for u in units), timeout=timeout, every=0.1)
        return time.monotonic() - since

    def stories(self, kind: str) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        for name, state in self.rows("SELECT t.file_name, h.state FROM history h JOIN transfers t "
                                     "ON t.id = h.transfer_id WHERE t.kind = %s ORDER BY h.id", (kind,)):
            result.setdefault(name, []).append(state)
        return result

    def count(self, kind: str, state: str) -> int:
        return self.rows("SELECT count(*) FROM transfers WHERE kind = %s AND state = %s", (kind, state))[0][0]

    def stop(self) -> list[int]:
        return [p.stop(60) for p in self.procs]

    def logs(self) -> str:
        return "\n".join(p.output() for p in self.procs)


def terminate_backends(url: str, pids: list[int]) -> int:
    """Drop every database connection of these processes, as a PostgreSQL restart would."""
    names = [f"sf1630 pid {pid}" for pid in pids]
    with psycopg.connect(url, autocommit=True) as db:
        return len(db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ANY(%s)",
                              (names,)).fetchall())


def chaos(site: Site, rng: random.Random, busy: Callable) -> dict[str, object]:
    """Kills (random and right after a claim), a stop longer than the lease, dropped connections."""
    figures: dict[str, object] = {"takeovers": []}
    for how in ("random", "claimed", "random", "claimed"):
        pid = None
        if how == "claimed":  # the holder of a unit whose work was just taken
            try:
                pid = site.holders().get(wait_for(busy, timeout=75, every=0.01))
            except TimeoutError:  # no work under way any more
                pass
        if pid is not None:
            victim = site.index_of(pid)
        else:
            time.sleep(rng.uniform(0.5, 3))
            victim = rng.randrange(len(site.procs))
        at, held = site.kill(victim)
        if held:
            figures["takeovers"].append(site.taken_over(held, site.procs[victim].proc.pid, at))
        time.sleep(rng.uniform(0.1, 1.0))
        site.restart(victim)
    # SIGSTOP a holder for twice the lease: its units go to others, and it must not act when woken.
    pid = next(iter(set(site.holders().values())))
    stopped = site.index_of(pid)
    site.procs[stopped].proc.send_signal(signal.SIGSTOP)
    time.sleep(LEASE * 2.5)
    site.procs[stopped].proc.send_signal(signal.SIGCONT)
    figures["stopped_pid"] = pid
    time.sleep(2)
    figures["terminated"] = terminate_backends(site.url, [p.proc.pid for p in site.procs])
    return figures


@pytest.fixture
def world(tmp_path: Path, pg_journal_url: str):
    ms = municipalities(4)
    sandbox = Sandbox(tmp_path, sources=SOURCES, municipalities=ms)
    platform = PlatformProcess(sandbox, tmp_path / "platform", settle_seconds=0).start()
    sandbox.trust(platform.port)
    yield sandbox, platform, ms
    platform.stop()


def test_three_lis_processes_load_every_delivery_once_through_kills_stops_and_dropped_connections(
        world, pg_journal_url: str, tmp_path: Path) -> None:
    sandbox, platform, ms = world
    rng = random.Random(21)
    sender = sandbox.write_agent("sender", receive=False, rows=5, agent={"receipt_timeout": 600})
    database = tmp_path / "lis" / "lis.sqlite3"
    lis = sandbox.write_agent("lis", send=False, sinks=[{"type": "sqlite", "options": {"path": str(database)}}],
                              agent={"journal": pg_journal_url, "lease_seconds": LEASE, "poll_interval": 0.5})
    periods = 30  # x 4 municipalities x 2 sources = 240 deliveries
    site = Site(lis, pg_journal_url, ["run"])
    site.ready(len(ms) + 1)  # every account, and the upkeep
    feeding = threading.Thread(target=_feed, args=(sender, periods), daemon=True)
    feeding.start()

    def busy() -> str | None:  # an account with a delivery taken but not yet loaded
        rows = site.rows("SELECT account FROM transfers WHERE kind = 'receive' AND state IN ('seen', 'downloaded') "
                         "LIMIT 1")
        return f"receive:{rows[0][0]}" if rows else None

    started = time.monotonic()
    try:
        figures = chaos(site, rng, busy)
        feeding.join(600)
        assert not feeding.is_alive(), "the sends did not finish"
        sent = {n for n, (state, _) in sent_files(sender).items() if state == "delivered"}
        assert len(sent) == periods * len(ms) * len(SOURCES)
        wait_for(lambda: site.count("receive", "loaded") >= len(sent), timeout=300, every=0.5)
        elapsed = time.monotonic() - started
    finally:
        exits = site.stop()
    assert exits == [0, 0, 0], site.logs()[-5000:]
    loads = database_rows(database)
    assert sorted(loads) == sorted(sent)
    assert [n for n, runs in loads.items() if len(runs) != 1] == []
    assert all(recorded == count == lines for runs in loads.values() for recorded, count, lines in runs)
    problems = [f"{n}: {p}" for n, story in site.stories("receive").items() for p in story_problems(story, "receive")]
    assert problems == []
    for m in ms:
        assert platform.files(m.lis_user, "IN") == []
    assert site.rows("SELECT count(*) FROM leases WHERE holder IS NOT NULL")[0][0] == 0  # given back at stop
    assert "lost its lease" in site.logs() or "lost the lease" in site.logs()
    takeovers = figures["takeovers"]
    print(f"\n{len(sent)} deliveries in {elapsed:.0f} s; {site.kills} kills survived; takeover "
          f"{min(takeovers):.1f}-{max(takeovers):.1f} s (lease {LEASE} s); {figures['terminated']} connections dropped")


def _feed(sender: Path, periods: int) -> None:
    """Send ``periods`` periods from the source site (its own SQLite journal)."""
    for n in range(1, periods + 1):
        for _ in range(5):
            done = Process(["--log-level", "WARNING", "send", "--config", str(sender), "--period", f"S{n:03d}"],
                           sender.parent / "send.log").start().wait(300)
            if done == 0:
                break


@pytest.mark.slow  # about two minutes: the jobs fire at the next full minute
def test_three_source_processes_deliver_every_extract_once_through_kills_and_a_stop(
        world, pg_journal_url: str) -> None:
    import tomllib

    import tomli_w

    sandbox, platform, ms = world
    rng = random.Random(1630)
    sender = sandbox.write_agent("sender", receive=False, rows=5,
                                 agent={"journal": pg_journal_url, "lease_seconds": LEASE, "receipt_timeout": 600})
    for path in (sender.parent / "municipalities").glob("*.toml"):  # every job fires at the next minute
        doc = tomllib.loads(path.read_text())
        for send in doc["send"]:
            send["schedule"] = "* * * * *"
        path.write_text(tomli_w.dumps(doc))
    jobs = len(ms) * len(SOURCES)
    site = Site(sender, pg_journal_url, ["run"])
    site.ready(jobs + 1)

    def busy() -> str | None:  # a job whose extract was just claimed
        rows = site.rows("SELECT municipality, source, recipient FROM transfers WHERE kind = 'send' "
                         "AND state IN ('planned', 'extracted', 'data_uploaded') LIMIT 1")
        return f"send:{rows[0][0]}:{rows[0][1]}:{rows[0][2] or ''}" if rows else None

    try:
        figures = chaos(site, rng, busy)
        wait_for(lambda: site.count("send", "delivered") >= jobs, timeout=300, every=0.5)
    finally:
        exits = site.stop()
    assert exits == [0, 0, 0], site.logs()[-5000:]
    sends = site.rows("SELECT municipality, source, state FROM transfers WHERE kind = 'send'")
    assert sorted(sends) == sorted((m.key, s.source, "delivered") for m in ms for s in SOURCES)
    problems = [f"{n}: {p}" for n, story in site.stories("send").items() for p in story_problems(story, "send")]
    assert problems == []
    for m in ms:  # each LIS got each extract once: a data file and its metadata per source
        assert len(platform.files(m.lis_user, "IN")) == 2 * len(SOURCES)
    for s in SOURCES:
        assert platform.files(s.user, "OUT") == [] and platform.files(s.user, "IN") == []
    print(f"\n{jobs} extracts; {site.kills} kills survived; takeovers {figures['takeovers']}")
