"""The states of a transfer and the pure decisions over them (STYLE.md: decisions are pure).

The sender and receiver do the I/O; this module only says what comes next. A state is always
committed to the journal before the action it allows (issue #13), so after a crash the journalled
state plus a look at the server is enough to finish a transfer without doing anything twice.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from enum import Enum

from sf1630.journal.states import (RECEIVE_OPEN, SEND_DONE, SEND_FAILED, SEND_OPEN,  # noqa: F401
                                   ReceiveState, SendState)

# The states themselves are defined once, in sf1630.journal.states; short names for the decisions below.
PLANNED, EXTRACTED, DATA_UPLOADED, TRIGGER_UPLOADED = (SendState.PLANNED, SendState.EXTRACTED,
                                                       SendState.DATA_UPLOADED, SendState.TRIGGER_UPLOADED)
DELIVERED, FAILED, CLEANED = SendState.DELIVERED, SendState.FAILED, SendState.CLEANED
SEEN, DOWNLOADED, REMOTE_DELETED = ReceiveState.SEEN, ReceiveState.DOWNLOADED, ReceiveState.REMOTE_DELETED
LOADED, QUARANTINED = ReceiveState.LOADED, ReceiveState.QUARANTINED

#: Environment variable of the crash test hook (see :func:`crash_point`).
CRASH_ENV = "SF1630_TEST_CRASH_AT"


class SendStep(Enum):
    """What the sender does next for one transfer."""

    EXTRACT = "extract"
    UPLOAD_DATA = "upload_data"
    UPLOAD_TRIGGER = "upload_trigger"
    AWAIT_RECEIPT = "await_receipt"
    DONE = "done"


class ReceiveStep(Enum):
    """What the receiver does next for one transfer."""

    DOWNLOAD = "download"
    DELETE_REMOTE = "delete_remote"
    LOAD = "load"
    DONE = "done"


def send_key(account: str, file_name: str) -> str:
    """Journal key of a send: the account plus the data file name (unique per extract made)."""
    return f"{account}/{file_name}"


def receive_key(account: str, file_transfer_uuid: str) -> str:
    """Journal key of a receive: the account plus the platform's FileTransferUUID."""
    return f"{account}/{file_transfer_uuid}"


def next_send_step(state: str) -> SendStep:
    """The step after ``state`` in a send that runs without interruption."""
    after: dict[str, SendStep] = {
        PLANNED: SendStep.EXTRACT,
        EXTRACTED: SendStep.UPLOAD_DATA,
        DATA_UPLOADED: SendStep.UPLOAD_TRIGGER,
        TRIGGER_UPLOADED: SendStep.AWAIT_RECEIPT,
    }
    return after.get(state, SendStep.DONE)


def resume_send_step(state: str, *, local_ok: bool, remote_size: int | None, expected_size: int | None,
                     trigger_present: bool, receipt_present: bool) -> SendStep:
    """The step that finishes a send found unfinished at start-up.

    The caller looks at the server in this order: trigger in OUT/, then receipt in IN/, then the
    data file. The platform writes the receipt before it removes the trigger, so a trigger absent
    at the first look and consumed since shows up as a receipt at the second (PROTOCOL.md 1.2).
    """
    if state in SEND_DONE:
        return SendStep.DONE
    if state == TRIGGER_UPLOADED or (state == DATA_UPLOADED and (trigger_present or receipt_present)):
        return SendStep.AWAIT_RECEIPT
    if state == DATA_UPLOADED and remote_size is not None and remote_size == expected_size:
        return SendStep.UPLOAD_TRIGGER
    if state in (EXTRACTED, DATA_UPLOADED) and local_ok:
        return SendStep.UPLOAD_DATA
    # planned, or the local extract is gone: make it again under the same name (same transfer).
    return SendStep.EXTRACT


def next_receive_step(state: str) -> ReceiveStep:
    """The step after ``state`` in a receive; quarantined loads are retried."""
    after: dict[str, ReceiveStep] = {
        SEEN: ReceiveStep.DOWNLOAD,
        DOWNLOADED: ReceiveStep.DELETE_REMOTE,
        REMOTE_DELETED: ReceiveStep.LOAD,
        QUARANTINED: ReceiveStep.LOAD,
    }
    return after.get(state, ReceiveStep.DONE)


def receipt_poll_delay(waited: float, *, first: float = 0.01, cap: float = 2.0) -> float:
    """How long to wait before listing IN/ again, after ``waited`` seconds without news.

    Short at first (the simulator answers in milliseconds), growing to ``cap`` for a slow platform.
    """
    return min(cap, max(first, waited / 4))


def quarantine_delay(attempts: int, *, first: float = 30.0, cap: float = 3600.0) -> float:
    """Seconds before a quarantined load is tried again by ``sf1630 run``: doubling from 30 s to an hour."""
    return min(cap, first * 2 ** max(0, attempts - 1))


def orphan_action(age: float, grace: float) -> str | None:
    """For a data file in IN/ without metadata: None, "report" past grace, "remove" past twice grace."""
    if age >= 2 * grace:
        return "remove"
    if age >= grace:
        return "report"
    return None


_MONTHLY = re.compile(r"M(0[1-9]|1[0-2])")


def covered_period(period: str, made: datetime) -> str:
    """The period an extract covers, with the year its name leaves out (PROTOCOL.md rule 7).

    ``M03`` made in April 2025 covers March 2025, made in January 2025 March 2024 (the latest March
    before the month it was made in). Other forms are taken as they are written.
    """
    match = _MONTHLY.fullmatch(period)
    if not match:
        return period
    year = made.year if int(match[1]) < made.month else made.year - 1
    return f"{year}-{period}"


def retention_due(mtime: float, now: float, warn_days: float) -> float | None:
    """The age in days of a file of our own when it is at least ``warn_days`` old (rule 8), else None."""
    age_days = (now - mtime) / 86400
    return age_days if age_days >= warn_days else None


def crash_point(name: str) -> None:
    """Test hook: end the process at once (exit status 137, like SIGKILL) at step ``name``.

    Set ``SF1630_TEST_CRASH_AT`` to a step name (a state name means "right after journalling it";
    ``trigger_written``, ``receipt_read``, ``sinks_loaded`` mean after that action and before its
    journal entry). The crash-recovery tests use it; nothing else should.
    """
    if os.environ.get(CRASH_ENV) == name:
        os._exit(137)
