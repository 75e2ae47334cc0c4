"""What the reliability tests and the soak share: processes, journal peeks and the totals check.

``PlatformProcess`` runs the simulator as ``sf1630 platform serve`` so it can be SIGKILLed and
restarted on the same port; ``AgentProcess`` runs ``sf1630 <command>`` the same way. Journals are
read read-only with plain SQLite while an agent writes them (the agent's own reader takes locks).
``check_totals`` is the promise of issue #5: every extract delivered once, every row loaded once,
nothing left where the protocol says it must be gone, a journal story that makes sense.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEND_ORDER = ("planned", "extracted", "data_uploaded", "trigger_uploaded", "delivered")
RECEIVE_ORDER = ("seen", "downloaded", "remote_deleted", "quarantined", "loaded")


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 15.0) -> None:
    """Until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on port {port} after {timeout} s") from None
            time.sleep(0.02)


class Process:
    """A ``python -m sf1630`` child with its output in a log file."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None):
        self.args, self.log, self.env = args, log, env or {}
        self.proc: subprocess.Popen | None = None

    def start(self) -> Process:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "sf1630", *self.args], stdout=out, stderr=out,
                                     stdin=subprocess.DEVNULL, env={**os.environ, **self.env})
        out.close()
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> int:
        """SIGKILL: no clean-up, no flush; returns the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(30)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait (SIGKILL after ``timeout``)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return self.kill()
        return self.proc.returncode

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class PlatformProcess(Process):
    """The simulator as its own process on a fixed port, from a sandbox's platform TOML."""

    def __init__(self, sandbox: Any, folder: Path, port: int | None = None, **server: Any):
        self.sandbox, self.port = sandbox, port or free_port()
        folder.mkdir(parents=True, exist_ok=True)
        self.config = sandbox.write_platform(folder / "platform.toml", self.port, **server)
        self.root = sandbox.root / "platform"
        super().__init__(["--log-level", "INFO", "platform", "serve", "--config", str(self.config)],
                         folder / "platform.log")

    def start(self) -> PlatformProcess:
        super().start()
        wait_port(self.port)
        return self

    def restart(self) -> PlatformProcess:
        if self.running:
            self.stop()
        return self.start()

    def files(self, user: str, folder: str) -> list[str]:
        path = self.root / user / folder
        return sorted(p.name for p in path.iterdir()) if path.is_dir() else []

    def in_flight(self) -> list[str]:
        """Route records of the simulator's journal (routes decided and not finished)."""
        folder = self.root / ".platform" / "journal"
        found = []
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
            try:
                if path.stat().st_size:  # empty: being created, nothing decided yet
                    found.append(path.name)
            except FileNotFoundError:
                pass
        return found


# -- journal peeks ---------------------------------------------------------------------------

def journal_path(agent_toml: Path) -> Path:
    return agent_toml.parent / "state" / "journal.sqlite"


def peek(agent_toml: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Run a read-only query on an agent's journal (empty when there is no journal yet)."""
    path = journal_path(agent_toml)
    if not path.exists():
        return []
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()
    except sqlite3.OperationalError:  # being created or migrated right now
        return []


def states(agent_toml: Path, kind: str) -> Counter[str]:
    """How many transfers of ``kind`` are in each state."""
    return Counter(dict(peek(agent_toml, "SELECT state, count(*) FROM transfers WHERE kind = ? GROUP BY state",
                             (kind,))))


def stories(agent_toml: Path, kind: str) -> dict[str, list[str]]:
    """Per transfer (by file name): the states its history went through, in order."""
    rows = peek(agent_toml, "SELECT t.file_name, h.state FROM history h JOIN transfers t ON t.id = h.transfer_id "
                            "WHERE t.kind = ? ORDER BY h.id", (kind,))
    result: dict[str, list[str]] = {}
    for name, state in rows:
        result.setdefault(name, []).append(state)
    return result


def story_problems(story: list[str], kind: str) -> list[str]:
    """What is wrong with one transfer's history: a state out of order, or not finished."""
    order = SEND_ORDER if kind == "send" else RECEIVE_ORDER
    final = "delivered" if kind == "send" else "loaded"
    problems, last = [], -1
    for state in story:
        if state not in order:
            problems.append(f"unexpected state {state}")
            continue
        at = order.index(state)
        # A state may repeat (a step done again after a crash) and a quarantined load goes back to
        # loading, but no step may come before one it needs.
        if at < last and not (kind == "receive" and state == "quarantined"):
            problems.append(f"{state} after {order[last]}")
        last = max(last, at)
    if not story or story[-1] != final:
        problems.append(f"ends in {story[-1] if story else 'nothing'}, not {final}")
    return problems


# -- the totals ------------------------------------------------------------------------------

@dataclass
class Totals:
    """What a run ended with; ``problems`` must be empty."""

    sent: int = 0
    loaded: int = 0
    rows: int = 0
    lost: int = 0
    duplicated_files: int = 0
    duplicated_rows: int = 0
    leftovers: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def sent_files(sender_toml: Path) -> dict[str, tuple[str, int]]:
    """Delivered sends: file name -> (state, rows); every send must be delivered."""
    rows = peek(sender_toml, "SELECT file_name, state, rows FROM transfers WHERE kind = 'send'")
    return {name: (state, n or 0) for name, state, n in rows}


def database_rows(database: Path) -> dict[str, list[tuple[int, int, int]]]:
    """Per file name in the LIS database: (rows recorded, rows in its table, distinct lines) per load."""
    result: dict[str, list[tuple[int, int, int]]] = {}
    if not database.exists():
        return result
    with sqlite3.connect(database) as db:
        for name, uuid, table, rows in db.execute("SELECT file_name, file_transfer_uuid, table_name, rows "
                                                  "FROM deliveries"):
            count, lines = db.execute(f'SELECT count(*), count(DISTINCT "_line") FROM "{table}" '
                                      'WHERE "_file_transfer_uuid" = ?', (uuid,)).fetchone()
            result.setdefault(name, []).append((rows, count, lines))
    return result


def check_totals(senders: list[Path], lis: list[tuple[Path, Path]], platform_root: Path,
                 spools: list[Path] | None = None) -> Totals:
    """Compare what the senders delivered with what the LIS databases hold, and look for leftovers.

    ``lis`` pairs each LIS agent's config with its SQLite database.
    """
    totals = Totals()
    expected: dict[str, int] = {}
    for sender in senders:
        for name, (state, rows) in sent_files(sender).items():
            if state != "delivered":
                totals.problems.append(f"{name}: send ended {state}")
                continue
            expected[name] = rows
        for name, story in stories(sender, "send").items():
            totals.problems += [f"{name} (send): {p}" for p in story_problems(story, "send")]
    totals.sent = len(expected)
    loaded: dict[str, list[tuple[int, int, int]]] = {}
    for agent, database in lis:
        for name, loads in database_rows(database).items():
            loaded.setdefault(name, []).extend(loads)
        for name, story in stories(agent, "receive").items():
            totals.problems += [f"{name} (receive): {p}" for p in story_problems(story, "receive")]
    for name, rows in expected.items():
        loads = loaded.get(name, [])
        if not loads:
            totals.lost += 1
            totals.problems.append(f"{name}: never loaded")
            continue
        if len(loads) > 1:
            totals.duplicated_files += 1
            totals.problems.append(f"{name}: loaded {len(loads)} times")
        for recorded, count, lines in loads:
            totals.rows += count
            totals.duplicated_rows += count - lines
            if not recorded == count == lines == rows:
                totals.problems.append(f"{name}: sent {rows} rows, loaded {count} ({lines} distinct)")
    totals.loaded = sum(1 for name in expected if name in loaded)
    totals.problems += [f"{name}: loaded but never sent" for name in loaded if name not in expected]
    totals.leftovers = leftovers(platform_root, spools or [s.parent / "state" / "spool" for s in senders]
                                 + [a.parent / "state" / "spool" for a, _ in lis])
    totals.problems += [f"left behind: {p}" for p in totals.leftovers]
    return totals


def leftovers(platform_root: Path, spools: list[Path]) -> list[str]:
    """Files that should be gone: anything in a user's IN/ or OUT/, in-flight routes, staging, spools."""
    found = []
    for user in sorted(p for p in platform_root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for folder in ("IN", "OUT"):
            found += [f"{user.name}/{folder}/{p.name}" for p in sorted((user / folder).glob("*"))]
    for folder in ("journal", "staging"):
        found += [f".platform/{folder}/{p.name}" for p in sorted((platform_root / ".platform" / folder).glob("*"))]
    for spool in spools:
        found += [str(p) for p in sorted(spool.rglob("*")) if p.is_file()]
    return found
