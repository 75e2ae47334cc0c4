"""Operator requests through the journal while ``sf1630 run`` holds the site (issue #21).

The command side: ``hand_over`` writes a request for the running service (on a shared journal
one row per unit of work, so that the process holding each unit does it) and ``await_outcome``
polls the rows until they are done. The service side: ``Inbox`` looks for new rows every
``poll_interval`` (at most a few seconds), takes each it may do, runs it with the service's own
sender, receiver and leases, and writes its outcome.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from typing import Any

from dataclasses import replace
from sf1630.agent.runtime import lock_holder
from sf1630.journal import is_url, open_journal
from sf1630.journal.processes import processes
from sf1630.agent.cluster import Member, receive_unit, send_unit
from sf1630.agent.operate import run_request
from sf1630.agent.requests import (Outcome, ReceiveRequest, Request, SendRequest, from_json, outcome_from_json,
                                   outcome_json, to_json)
from sf1630.agent.runtime import Runtime, Selection
from sf1630.errors import Sf1630Error
from sf1630.journal import requests as rows
from sf1630.receive.receiver import Receiver
from sf1630.send.sender import Sender

log = logging.getLogger("sf1630.inbox")

LOOK_EVERY = 2.0  # seconds between looks at the table, at most (poll_interval when shorter)


class Inbox:
    """The service's side: take requests from the journal and carry them out."""

    def __init__(self, rt: Runtime, stop: asyncio.Event, sender: Sender, receiver: Receiver,
                 member: Member | None = None):
        self.rt, self.stop, self.sender, self.receiver, self.member = rt, stop, sender, receiver, member
        self.me = member.record.id if member else f"{socket.gethostname()}:{os.getpid()}"
        self.tasks: set[asyncio.Task] = set()

    async def run(self) -> None:
        """Until stopped: look, take, carry out; then wait for what runs and put back what did not start."""
        try:
            while not self.stop.is_set():
                try:
                    for row in await asyncio.to_thread(self._take_new):
                        task = asyncio.create_task(self._carry_out(row))
                        self.tasks.add(task)
                        task.add_done_callback(self.tasks.discard)
                except Sf1630Error as exc:  # the database is away; the next look tries again
                    log.warning("cannot read operator requests: %s", exc)
                try:
                    await asyncio.wait_for(self.stop.wait(), min(LOOK_EVERY, self.rt.config.poll_interval))
                except TimeoutError:
                    pass
        finally:
            await asyncio.gather(*self.tasks, return_exceptions=True)
            try:
                await asyncio.to_thread(rows.release, self.rt.journal, self.me)
            except Sf1630Error as exc:
                log.warning("could not put back operator requests: %s", exc)

    def _take_new(self) -> list[rows.RequestRow]:
        taken = []
        for row in rows.waiting(self.rt.journal):
            unit = row.args.get("unit")
            if self.member is not None and (unit is None or self.member.fence(unit) is None):
                continue  # for the process that holds the unit
            if row.command not in ("send", "receive") or not rows.take(self.rt.journal, row.id, self.me):
                continue
            log.info("request %d from %s: %s %s", row.id, row.asked_by, row.command, describe_args(row.args))
            taken.append(row)
        return taken

    async def _carry_out(self, row: rows.RequestRow) -> None:
        only = row.args.get("unit")
        member = _OneUnit(self.member, only) if self.member is not None and only else self.member
        try:
            request = from_json(row.command, row.args)
            outcome = await run_request(self.rt, request, self.stop, sender=self.sender, receiver=self.receiver,
                                        member=member)  # type: ignore[arg-type]
        except Sf1630Error as exc:
            outcome = Outcome(getattr(exc, "exit_status", 1), error=str(exc))
        except Exception as exc:  # one request's failure must not stop the service
            log.exception("request %d failed", row.id)
            outcome = Outcome(1, error=f"the service failed on request {row.id}: {type(exc).__name__}: {exc}; "
                                       "see the service's log")
        await asyncio.to_thread(rows.finish, self.rt.journal, row.id, outcome_json(outcome), outcome.exit_code)
        log.info("request %d done: exit %d", row.id, outcome.exit_code)


class _OneUnit:
    """A member seen through one unit: the jobs of a request are those of the unit it was written for."""

    def __init__(self, member: Member, unit: str):
        self.member, self.unit = member, unit

    def fence(self, unit: str) -> Any:
        return self.member.fence(unit) if unit == self.unit else None


def describe_args(args: dict[str, Any]) -> str:
    """A request's arguments as the command line options that asked for it."""
    chosen = args.get("selection") or {}
    parts = [f"--municipality {m}" for m in chosen.get("municipalities", ())]
    parts += [f"--source {s}" for s in chosen.get("sources", ())]
    parts += [f"--{k.replace('_', '-')} {v}" for k, v in args.items()
              if k not in ("selection", "unit", "resend_by", "dry_run") and v not in (None, False)]
    return " ".join(parts) or "(everything)"


# -- the command's side --------------------------------------------------------------------

def service_running(cfg: Any) -> str | None:
    """Who runs the site's service now (for messages), or None when no ``sf1630 run`` holds it."""

    if not is_url(cfg.journal):
        holder = lock_holder(cfg.journal)
        return f"pid {holder[0]}" if holder and holder[1] == "run" else None
    with open_journal(cfg.journal) as journal:
        live = [p for p in processes(journal, since=time.time() - cfg.lease_seconds) if p.stopped_at is None]
    return ", ".join(f"{p.host} pid {p.pid}" for p in live) or None


def units_of(cfg: Any, request: Request) -> list[tuple[str, Selection]]:
    """The units of work a request touches on a shared journal, each with the selection that does it."""
    found: dict[str, Selection] = {}
    chosen = request.selection
    for mc in cfg.municipalities:
        key = mc.municipality.key
        if isinstance(request, SendRequest):
            for s in mc.sends:
                if chosen.takes(key, s.source):
                    found[send_unit(key, s.source, s.recipient_code)] = Selection((key,), (s.source,))
        elif isinstance(request, ReceiveRequest) and mc.receive is not None and chosen.takes(key):
            found[receive_unit(mc.receive.account)] = Selection((key,))
    return list(found.items())


def hand_over(cfg: Any, request: Request, asked_by: str) -> list[int]:
    """Write ``request`` for the running service; the ids of its rows (one per unit on a shared journal)."""


    with open_journal(cfg.journal) as journal:
        if not is_url(cfg.journal):
            return [rows.submit(journal, request.command, to_json(request), asked_by)]
        return [rows.submit(journal, request.command, {**to_json(replace(request, selection=sel)), "unit": unit},
                            asked_by) for unit, sel in units_of(cfg, request)]


def await_outcome(cfg: Any, ids: list[int], *, every: float = 0.2, say=print) -> Outcome:
    """Poll the rows until every one is done; their outcomes as one.

    While nothing takes them it says so once; when the service stops meanwhile, the rows stay for its
    next start and this raises with their ids.
    """

    with open_journal(cfg.journal) as journal:
        done: dict[int, rows.RequestRow] = {}
        said, started, checked = False, time.monotonic(), time.monotonic()
        while len(done) < len(ids):
            for i in ids:
                if i not in done:
                    row = rows.get(journal, i)
                    if row is not None and row.state == rows.DONE:
                        done[i] = row
            if len(done) == len(ids):
                break
            if not said and time.monotonic() - started > max(5.0, 2 * cfg.poll_interval):
                say(f"waiting for the running service to take request {', '.join(map(str, ids))}")
                said = True
            if time.monotonic() - checked > 5.0:
                checked = time.monotonic() if service_running(cfg) else _gone(ids)
            time.sleep(every)
    outcome = Outcome()
    for i in ids:
        outcome = outcome.merge(outcome_from_json(done[i].outcome or {}))
    return outcome


def _gone(ids: list[int]) -> float:
    raise Sf1630Error(f"the sf1630 service stopped before it finished request {', '.join(map(str, ids))}; the "
                      "request stays in the journal and the service does it when it starts again "
                      "(sf1630 status lists pending requests)")
