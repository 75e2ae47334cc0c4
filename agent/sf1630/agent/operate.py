"""Carry out one operator request on a runtime: a send or receive round, or its dry run (issue #18).

``run_request`` is what ``sf1630 send`` and ``receive`` do when no service holds the site, and
what a running service does with a request it took from the journal (then with its own sender,
receiver and leases). Either way the result is an ``Outcome``; nothing here prints.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sf1630.journal import exists as journal_exists
from sf1630.ops.report import table
from sf1630.receive.expect import MissingWatch, expectations
from sf1630.agent.cluster import Member
from sf1630.agent.flow import catch_up, make_receiver, make_sender, receive_round, send_round
from sf1630.agent.requests import Outcome, ReceiveRequest, Request, SendRequest
from sf1630.agent.runtime import Runtime, Selection, build_runtime
from sf1630.core import steps
from sf1630.errors import ConfigError
from sf1630.events import Emit
from sf1630.ops.report import transfer_rows
from sf1630.receive.receiver import Receiver
from sf1630.send.sender import Sender


class EmptyJournal:
    """Stands in for a journal that does not exist yet, so that a dry run creates nothing."""

    def transfers(self, *args: Any, **kwargs: Any) -> list:
        return []

    def get(self, key: str) -> None:
        return None

    def close(self) -> None:
        pass


async def perform(cfg: Any, request: Request, stop: asyncio.Event, *, emitters: Iterable[Emit] = (),
                  started: Callable[[Runtime], None] | None = None) -> Outcome:
    """Do ``request`` in this process, on a runtime of its own (no service holds the site)."""

    if request.dry_run:  # creates no journal
        rt = build_runtime(cfg, journal=None if journal_exists(cfg.journal) else EmptyJournal())
    else:
        rt = build_runtime(cfg, command=request.command, emitters=emitters)
    try:
        if started:
            started(rt)
        return await run_request(rt, request, stop)
    finally:
        await rt.aclose()


async def run_request(rt: Runtime, request: Request, stop: asyncio.Event, *, sender: Sender | None = None,
                      receiver: Receiver | None = None, member: Member | None = None) -> Outcome:
    """Do ``request`` on ``rt``; a service passes its own ``sender``, ``receiver`` and ``member``."""
    if isinstance(request, SendRequest):
        if request.dry_run:
            return send_dry_run(rt, request)
        return await send(rt, request, stop, sender=sender, member=member)
    if request.dry_run:
        return await receive_dry_run(rt, request.selection)
    return await receive(rt, request, stop, receiver=receiver, member=member)


async def send(rt: Runtime, request: SendRequest, stop: asyncio.Event, *, sender: Sender | None = None,
               member: Member | None = None) -> Outcome:
    """A send round (or catch-up) of the request's selection."""
    notes = resend_notes(rt, request) if request.resend_reason else ()
    if request.catch_up:
        summary = await catch_up(rt, request.selection, stop, since=request.since, sender=sender, member=member)
    else:
        extra: dict[str, Any] = {"period": request.period} if request.period else {}
        if request.resend_reason:
            extra.update(resend_reason=request.resend_reason, resend_by=request.resend_by)
        summary = await send_round(rt, request.selection, stop, sender=sender, member=member, **extra)
    after = () if summary.transfers else ("nothing to send: no [[send]] matches the selection",)
    return Outcome(0 if summary.ok and not rt.problems else 1, _rows(summary.transfers), notes, after)


def resend_notes(rt: Runtime, request: SendRequest) -> tuple[str, ...]:
    """Which delivery a resend repeats, or that there was none (it is sent all the same)."""
    selection, period = request.selection, request.period
    specs = rt.send_specs(selection)
    if not specs:
        known = sorted({f"{m.municipality.key} {s.source}" for m in rt.config.municipalities for s in m.sends})
        raise ConfigError(f"nothing to resend: no [[send]] of municipality {selection.municipalities[0]!r} and "
                          f"source {selection.sources[0]!r} is configured{' or usable' if rt.problems else ''}; "
                          f"configured: {', '.join(known) or 'none'}")
    notes = []
    for spec in specs:
        earlier = [t for t in rt.journal.transfers(kind="send", municipality=spec.municipality.key,
                                                   source=spec.source.name, states=["delivered"], limit=None)
                   if t.period == period and t.recipient == spec.recipient_code]
        what = f"again after {', '.join(t.file_name for t in earlier)}" if earlier else "(no earlier delivery found)"
        notes.append(f"resending {spec.municipality.key} {spec.source.name} {period} {what}")
    return tuple(notes)


async def receive(rt: Runtime, request: ReceiveRequest, stop: asyncio.Event, *, receiver: Receiver | None = None,
                  member: Member | None = None) -> Outcome:
    """A receive round of the request's selection, then the check of expected extracts."""
    reports = await receive_round(rt, receiver or make_receiver(rt, stop), request.selection, member)
    notes = expected_notes(rt, request.selection)
    transfers = [t for r in reports for t in (*r.loaded, *r.quarantined, *r.waiting)]
    after = [f"{r.account}: not taken: {name} (see the log)" for r in reports for name in r.skipped]
    after += [f"{r.account}: not received: {r.error}" for r in reports if r.error]
    if not reports:
        after.append("nothing to receive: no [receive] matches the selection")
    bad = any(r.quarantined or r.waiting or r.error for r in reports) or rt.problems
    return Outcome(1 if bad else 0, _rows(transfers), (), (*notes, *after))


def expected_notes(rt: Runtime, selection: Selection) -> tuple[str, ...]:
    """Expected extracts past their deadline fire `missing` once, arrivals clear them (issue #14)."""

    expected = expectations(rt.config, rt.host, selection.municipalities)
    lines = []
    for event in MissingWatch(rt.journal, rt.emit).check(expected) if expected else ():
        e = event.expectation
        lines.append(f"{e.municipality}: {e.source} extract due by {e.deadline:%Y-%m-%d %H:%M} "
                     + (f"arrived: {e.arrived_file}" if event.cleared else "has not arrived (see sf1630 status)"))
    return tuple(lines)


def send_dry_run(rt: Runtime, request: SendRequest) -> Outcome:
    """What a send round would do, changing nothing."""

    sender = make_sender(rt, asyncio.Event())
    rows, now = [], datetime.now().replace(microsecond=0)
    for t in rt.journal.transfers(kind="send", states=steps.SEND_OPEN, limit=None):
        if request.selection.takes(t.municipality or "", t.source):
            rows.append(["resume", t.municipality, t.source, t.period, t.file_name, f"from {t.state}"])
    for spec in rt.send_specs(request.selection):
        job, name = sender.plan(spec, now, request.period)
        earlier = sender.already_sent(spec, job.period)
        if request.resend_reason is not None:
            rows.append(["resend", spec.municipality.key, spec.source.name, job.period, name,
                         f"reason: {request.resend_reason} (by {request.resend_by})"])
        elif earlier is not None:
            rows.append(["skip", spec.municipality.key, spec.source.name, job.period, earlier.file_name,
                         f"already {earlier.state}"])
        else:
            to = ", ".join(spec.recipients) if spec.routing == "simple" else "routed (dynamic)"
            rows.append(["send", spec.municipality.key, spec.source.name, job.period, name,
                         f"as {spec.link.user} to {to}"])
    lines = table(["ACTION", "MUNICIPALITY", "SOURCE", "PERIOD", "FILE", "NOTE"], rows)
    return Outcome(0 if not rt.problems else 1, after=tuple(lines), table=False)


async def receive_dry_run(rt: Runtime, selection: Selection) -> Outcome:
    """What waits on the server and in the journal; download, delete and load nothing."""

    rows = []
    for spec in rt.receive_specs(selection):
        for t in rt.journal.transfers(kind="receive", states=steps.RECEIVE_OPEN, account=spec.link.name, limit=None):
            rows.append([spec.link.name, "continue", t.file_name, f"from {t.state}"])
        async with rt.pool.session(spec.link.endpoint, spec.link.credentials) as session:
            for f in await session.listdir("IN"):
                if f.name.endswith(".metadata"):
                    rows.append([spec.link.name, "take", f.name.removesuffix(".metadata"), f"{f.size} B metadata"])
    lines = table(["ACCOUNT", "ACTION", "FILE", "NOTE"], rows)
    return Outcome(0 if not rt.problems else 1, after=tuple(lines), table=False)


def _rows(transfers: list) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple("" if c is None else str(c) for c in row) for row in transfer_rows(transfers))
