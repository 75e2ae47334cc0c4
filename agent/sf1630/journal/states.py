"""The states of a transfer, one enum per direction: the one definition that steps, the journal,
status and metrics use.

Members are strings (StrEnum), so a state read back from the journal compares equal to its member.
"""

from __future__ import annotations

from enum import StrEnum


class SendState(StrEnum):
    """planned -> extracted -> data_uploaded -> trigger_uploaded -> delivered | failed -> cleaned."""

    PLANNED = "planned"
    EXTRACTED = "extracted"
    DATA_UPLOADED = "data_uploaded"
    TRIGGER_UPLOADED = "trigger_uploaded"
    DELIVERED = "delivered"
    FAILED = "failed"
    CLEANED = "cleaned"  # a failed send whose files are gone from the server (PROTOCOL rule 3)


class ReceiveState(StrEnum):
    """seen -> downloaded -> remote_deleted -> loaded | quarantined (a quarantined load is retried)."""

    SEEN = "seen"
    DOWNLOADED = "downloaded"
    REMOTE_DELETED = "remote_deleted"
    LOADED = "loaded"
    QUARANTINED = "quarantined"


SEND_OPEN = (SendState.PLANNED, SendState.EXTRACTED, SendState.DATA_UPLOADED, SendState.TRIGGER_UPLOADED)
SEND_FAILED = (SendState.FAILED, SendState.CLEANED)
SEND_DONE = (SendState.DELIVERED, SendState.FAILED, SendState.CLEANED)
RECEIVE_OPEN = (ReceiveState.SEEN, ReceiveState.DOWNLOADED, ReceiveState.REMOTE_DELETED, ReceiveState.QUARANTINED)

STATES: dict[str, type[StrEnum]] = {"send": SendState, "receive": ReceiveState}
INITIAL = {"send": SendState.PLANNED, "receive": ReceiveState.SEEN}


def kind_of(state: str) -> str | None:
    """``send`` or ``receive`` for a state, None when it is neither's."""
    for kind, enum in STATES.items():
        if state in enum.__members__.values():
            return kind
    return None
