"""What the status page shows, as plain data: a matrix per direction, accounts, jobs (issue #24).

Rows are municipalities, columns sources (a source sending to several recipient codes gets a column
per code), one matrix per period. A cell holds the latest transfer of its slot, read as a state and a
word, or what the configuration says should be there (overdue, not yet, not expected). The commands
that resolve a problem come from the attention list (``sf1630.ops.attention``), never from here.
Only names, counts, sizes, times, codes and states: no row data. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sf1630.core import cron, steps
from sf1630.documents.names import parse_data_name
from sf1630.journal.base import PLATFORM_UNREACHABLE
from sf1630.ops.attention import EXTRACT_OVERDUE, Attention, attention
from sf1630.receive.expect import Expected, expectations

NO_PERIOD = "no period"
# state -> how the page colours it; the word says the same in text.
OK, WAITING, OVERDUE, FAILED, QUARANTINED, PENDING, NONE, UNEXPECTED = (
    "ok", "waiting", "overdue", "failed", "quarantined", "pending", "none", "unexpected")


@dataclass(frozen=True)
class Cell:
    """One municipality's extract of one source for one period."""

    state: str
    word: str
    file: str | None = None
    at: float | None = None
    rows: int | None = None
    size: int | None = None
    note: str = ""
    resolve: str = ""


@dataclass
class Matrix:
    """One direction: ``cells[(period, municipality, column)]``; a missing key is read by :meth:`cell`."""

    direction: str  # "send" | "receive"
    columns: list[tuple[str, str]]  # (key, label)
    municipalities: list[tuple[str, str]]  # (key, name)
    cells: dict[tuple[str, str, str], Cell] = field(default_factory=dict)
    planned: set[tuple[str, str]] = field(default_factory=set)  # (municipality, column) configured
    current: str = ""

    def cell(self, period: str, municipality: str, column: str) -> Cell:
        found = self.cells.get((period, municipality, column))
        if found is not None:
            return found
        if (municipality, column) not in self.planned:
            return Cell(UNEXPECTED, "not expected")
        if period == self.current:
            return Cell(PENDING, "not yet", note="nothing " + ("sent" if self.direction == "send" else "arrived")
                        + " for this period yet")
        return Cell(NONE, "nothing sent" if self.direction == "send" else "nothing received")


@dataclass(frozen=True)
class AccountState:
    name: str
    user: str
    environment: str
    up: bool | None  # None: nothing known yet
    since: float | None  # unreachable since, or the last transfer
    note: str = ""


@dataclass(frozen=True)
class JobState:
    job: str  # e.g. "send ikast-brande ky" or "receive herning"
    schedule: str
    next_run: float | None  # None: every poll_interval
    note: str = ""


@dataclass
class Overview:
    generated: float
    environment: str
    current: str
    periods: list[str]
    matrices: list[Matrix]
    accounts: list[AccountState]
    jobs: list[JobState]
    attention: list[Attention]  # the same list as ``sf1630 status --check``


def build_overview(cfg: Any, journal: Any, now: float, host: Any = None) -> Overview:
    """The page's data for ``cfg`` from ``journal`` at ``now`` (``host``: the plugin host, or None)."""
    sources = host.sources() if host is not None else {}
    expected = expectations(cfg, host)
    items = attention(journal, now, receipt_timeout=cfg.receipt_timeout, expected=expected)
    current = covered(_period_fn(sources, None)(datetime.fromtimestamp(now)), datetime.fromtimestamp(now))
    matrices = []
    if any(m.sends for m in cfg.municipalities):
        matrices.append(_sent(cfg, journal, now, items, sources))
    if any(m.receive for m in cfg.municipalities):
        matrices.append(_received(cfg, journal, now, items, sources, expected))
    periods = {current} | {p for m in matrices for p, _, _ in m.cells}
    for m in matrices:
        m.current = current
    return Overview(now, cfg.environment.name, current, sorted(periods, key=_period_order, reverse=True),
                    matrices, _accounts(cfg, journal), _jobs(cfg, journal, now, sources), items)


def covered(period: str | None, made: datetime) -> str:
    """The period an extract made at ``made`` covers, with its year (PROTOCOL.md rule 7)."""
    return steps.covered_period(period, made) if period else NO_PERIOD


def _period_order(period: str) -> tuple[int, str]:
    return (0, "") if period == NO_PERIOD else (1, period)


def _period_fn(sources: dict[str, Any], name: str | None) -> Callable[[datetime], str]:
    source = sources.get(name) if name else None
    if source is not None:
        return source.period
    return lambda when: f"M{(when.month - 2) % 12 + 1:02d}"  # monthly, the month before (rule 7)


def _municipalities(cfg: Any, wanted: Callable[[Any], bool]) -> list[tuple[str, str]]:
    return [(m.municipality.key, m.municipality.name) for m in cfg.municipalities if wanted(m)]


def _sent(cfg: Any, journal: Any, now: float, items: list[Attention], sources: dict[str, Any]) -> Matrix:
    planned = {(m.municipality.key, _send_column(s.source, s.recipient_code))
               for m in cfg.municipalities for s in m.sends}
    matrix = Matrix("send", [], _municipalities(cfg, lambda m: m.sends), planned=planned)
    resolve = {a.ref: a.resolve for a in items}
    for t in _latest(journal.transfers(kind="send", limit=None), _send_period):
        column = _send_column(t.source or "?", t.recipient or "")
        matrix.cells[(_send_period(t), t.municipality or "?", column)] = _send_cell(t, now, cfg.receipt_timeout,
                                                                                   resolve)
    _finish(matrix, {c for _, c in planned}, _send_label)
    return matrix


def _send_column(source: str, recipient: str) -> str:
    return f"{source.lower()}>{recipient}"


def _send_label(columns: set[str]) -> Callable[[str], str]:
    by_source: dict[str, int] = {}
    for c in columns:
        by_source[c.split(">")[0]] = by_source.get(c.split(">")[0], 0) + 1

    def label(column: str) -> str:
        source, recipient = column.split(">", 1)
        return f"{source.upper()} → {recipient}" if by_source[source] > 1 else source.upper()
    return label


def _send_period(t: Any) -> str:
    made = (t.details or {}).get("created")
    return covered(t.period, datetime.fromisoformat(made) if made else datetime.fromtimestamp(t.created_at))


def _send_cell(t: Any, now: float, timeout: float, resolve: dict[str, str]) -> Cell:
    fix = resolve.get(f"transfer:{t.id}", "")
    facts = dict(file=t.file_name, at=t.updated_at, rows=t.rows, size=t.size, resolve=fix)
    if t.state == steps.DELIVERED:
        return Cell(OK, "delivered", **facts)
    if t.state in steps.SEND_FAILED:
        codes = [str(c) for c in (t.details or {}).get("receipt_codes", [])]
        return Cell(FAILED, " ".join(["failed", *codes[:1]]), note=t.error or "error receipt", **facts)
    if t.state == steps.TRIGGER_UPLOADED:
        if now - t.updated_at > timeout:
            return Cell(OVERDUE, "receipt overdue", note=f"no receipt after {now - t.updated_at:.0f} s", **facts)
        return Cell(WAITING, "waiting for receipt", **facts)
    return Cell(WAITING, "sending", note=f"in progress ({t.state}); resumes on the next run", **facts)


def _received(cfg: Any, journal: Any, now: float, items: list[Attention], sources: dict[str, Any],
              expected: list[Expected]) -> Matrix:
    names = {str(s.code).lower(): name for name, s in sources.items()}
    planned = {(e.municipality, e.source.lower()) for e in expected}
    matrix = Matrix("receive", [], _municipalities(cfg, lambda m: m.receive), planned=planned)
    resolve = {a.ref: a.resolve for a in items}
    for t in _latest(journal.transfers(kind="receive", limit=None), _receive_period):
        column = names.get((t.source or "").lower(), (t.source or "?").lower())
        matrix.planned.add((t.municipality or "?", column))
        matrix.cells[(_receive_period(t), t.municipality or "?", column)] = _receive_cell(t, resolve)
    late = {(a.municipality, a.source): a for a in items if a.kind == EXTRACT_OVERDUE}
    for e in expected:
        a = late.get((e.municipality, e.source))
        if a is None:
            continue
        fired = datetime.fromtimestamp(a.since - e.grace_seconds)  # an overdue item's since is its deadline
        key = (covered(_period_fn(sources, e.source)(fired), fired), e.municipality, e.source.lower())
        if key not in matrix.cells:
            matrix.cells[key] = Cell(OVERDUE, "overdue", at=a.since, note=a.message, resolve=a.resolve)
    _finish(matrix, {c for _, c in matrix.planned}, lambda _: str.upper)
    return matrix


def _receive_period(t: Any) -> str:
    name = parse_data_name(t.file_name)
    return covered(t.period, name.timestamp if name else datetime.fromtimestamp(t.created_at))


def _receive_cell(t: Any, resolve: dict[str, str]) -> Cell:
    facts = dict(file=t.file_name, at=t.updated_at, rows=t.rows, size=t.size,
                 resolve=resolve.get(f"transfer:{t.id}", ""))
    if t.state == steps.LOADED:
        return Cell(OK, "loaded", **facts)
    if t.state == steps.QUARANTINED:
        return Cell(QUARANTINED, "quarantined", note=t.error or "load failed", **facts)
    return Cell(WAITING, "receiving", note=f"in progress ({t.state}); resumes on the next round", **facts)


def _latest(transfers: list[Any], period: Callable[[Any], str]) -> list[Any]:
    """The newest transfer per slot: a resend or a retry replaces what came before it."""
    newest: dict[tuple, Any] = {}
    for t in transfers:
        key = (t.municipality, (t.source or "").lower(), t.recipient, period(t))
        if key not in newest or (t.created_at, t.id) > (newest[key].created_at, newest[key].id):
            newest[key] = t
    return list(newest.values())


def _finish(matrix: Matrix, columns: set[str], labeller: Callable[[set[str]], Callable[[str], str]]) -> None:
    columns |= {c for _, _, c in matrix.cells}
    label = labeller(columns)
    matrix.columns = [(c, label(c)) for c in sorted(columns)]
    known = {k for k, _ in matrix.municipalities}
    matrix.municipalities += [(k, k) for k in sorted({m for _, m, _ in matrix.cells} - known)]


def _accounts(cfg: Any, journal: Any) -> list[AccountState]:
    down = {p.account or p.key: p for p in journal.list_problems(PLATFORM_UNREACHABLE)}
    out = []
    for name, account in sorted(cfg.accounts.items()):
        if name in down:
            p = down[name]
            out.append(AccountState(name, account.user, account.environment, False, p.since, p.message))
            continue
        last = journal.transfers(account=name, limit=1)
        at = last[0].updated_at if last else None
        out.append(AccountState(name, account.user, account.environment, True if last else None, at,
                                "" if last else "no transfer yet"))
    return out


def _jobs(cfg: Any, journal: Any, now: float, sources: dict[str, Any]) -> list[JobState]:
    last: dict[tuple, float] = {}  # one reading of the sends, not one per job: 98 municipalities x 5 sources
    for t in journal.transfers(kind="send", limit=None):
        key = (t.municipality, t.source, t.recipient)
        last[key] = max(t.created_at, last.get(key, 0.0))
    jobs = []
    for m in cfg.municipalities:
        key = m.municipality.key
        for s in m.sends:
            plugin = sources.get(s.source)
            expr = s.schedule or (plugin.schedule if plugin is not None else None)
            name = f"send {key} {s.source}"
            if not expr:
                jobs.append(JobState(name, "?", None, "the source's plugin is not loaded"))
                continue
            jobs.append(_next_send(name, expr, last.get((key, s.source, s.recipient_code)), now))
        if m.receive:
            jobs.append(JobState(f"receive {key}", f"every {cfg.poll_interval:g} s", None))
    return jobs


def _next_send(job: str, expr: str, last: float | None, now: float) -> JobState:
    """As the scheduler reckons it: the next fire time after the last send (a missed run is due now)."""
    try:
        at = cron.next_time(expr, datetime.fromtimestamp(last or now)).timestamp()
    except ValueError as exc:
        return JobState(job, expr, None, str(exc))
    return JobState(job, expr, at, "due now (a run was missed)" if at <= now else "")
