"""What the receiver decides about a metadata file, and the Delivery a sink gets (pure)."""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from pathlib import Path

from sf1630.api import Delivery, Municipality, Transfer
from sf1630.core.specs import ReceiveSpec
from sf1630.documents.metadata import Metadata, parse_metadata
from sf1630.documents.names import ROUTING, check_name, parse_data_name
from sf1630.errors import Sf1630Error


# A delivery's name is parsed when its metadata is read and again at each authority check (issue #23:
# strptime showed in the receiver's profile); a DataName is frozen, so one may be shared.
_data_name = functools.lru_cache(maxsize=1024)(parse_data_name)


class AuthorityMismatch(Sf1630Error):
    """A data file's name names another authority than the receiving municipality's: not loaded."""


class SinksDisagree(Sf1630Error):
    """The sinks of one delivery loaded different numbers of rows."""


@dataclass(frozen=True)
class Incoming:
    """A parsed metadata file and what its data file's name shows (when it follows the pattern)."""

    metadata: Metadata
    metadata_name: str
    source: str | None
    period: str | None = None
    authority: str | None = None

    @classmethod
    def parse(cls, raw: bytes, *, origin: str, metadata_name: str) -> Incoming:
        """Parse metadata (either root, any prefix) and check its data file name; DocumentError if bad."""
        md = parse_metadata(raw, origin)
        check_name(md.descriptor.file_name, origin)  # it becomes a local path
        parsed = _data_name(md.descriptor.file_name)  # a convenience, never a gate (rule 7)
        if parsed is None:
            return cls(md, metadata_name, None)
        return cls(md, metadata_name, parsed.sender.lower(), parsed.period, parsed.authority_id)


def for_us(metadata: Metadata, user: str, expected_senders: tuple[str, ...] | list[str]) -> str | None:
    """Why a metadata file is not ours to take, or None when it is.

    ``Recipients`` names the delivered user; ``ROUTING_V1_0_0`` is accepted too (rule 6).
    """
    recipients = tuple(metadata.descriptor.recipients)
    if user not in recipients and ROUTING not in recipients:
        return f"it is addressed to {', '.join(recipients) or 'nobody'}, not to {user}"
    sender = metadata.descriptor.sender
    if expected_senders and sender not in expected_senders:
        return f"sender {sender} is not among the expected senders ({', '.join(expected_senders)})"
    return None


def kept_metadata(raw: bytes) -> str:
    """The metadata's bytes as the journal keeps them in the claim's details (exact bytes, any encoding)."""
    return base64.b64encode(raw).decode("ascii")


def delivery_of(t: Transfer, metadata_path: Path, spec: ReceiveSpec) -> Delivery:
    """The Delivery a sink loads, from the journal: the metadata kept in the claim's details, or, for a
    transfer journalled by an earlier version, the metadata file kept beside the local copy."""
    kept = (t.details or {}).get("metadata")
    if kept is not None:
        return delivery_from(t, parse_metadata(base64.b64decode(kept), f"journal:{t.key}"), spec)
    return delivery_from(t, parse_metadata(metadata_path.read_bytes(), str(metadata_path)), spec)


def delivery_from(t: Transfer, md: Metadata, spec: ReceiveSpec) -> Delivery:
    """The Delivery of ``t`` from its parsed metadata (``md``)."""
    return Delivery(file_transfer_uuid=t.file_transfer_uuid or md.file_transfer_uuid, file_name=t.file_name,
                    sender=md.descriptor.sender, recipient=spec.link.user, size=int(t.size or 0),
                    source=(t.source or "").upper() or None, municipality=spec.municipality.key, metadata=md)


def authority_problem(file_name: str, municipality: Municipality, accepted: tuple[str, ...] = ()) -> str | None:
    """Why a file whose name names another authority is not loaded here, or None when it may be.

    A name outside the pattern carries no authority and loads as any other (PROTOCOL.md rule 7).
    """
    parsed = _data_name(file_name)
    if parsed is None or parsed.authority_id in (municipality.cvr, municipality.authority_id, *accepted):
        return None
    return (f"{file_name} names authority {parsed.authority_id}, but this account receives for "
            f"{municipality.name} (cvr {municipality.cvr}, authority_id {municipality.authority_id}); not loaded. "
            f"If the file belongs here, add \"{parsed.authority_id}\" to accept_authorities in [receive] of the "
            f"municipality file of {municipality.key!r} (the next round loads it); otherwise tell the sender "
            "that it went to the wrong municipality")


def file_rows(counts: dict[str, int]) -> int | None:
    """The file's rows from each sink's own count; SinksDisagree when they differ.

    None when no sink counted it (every sink had loaded it before and the count was not kept).
    """
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{label} {rows}" for label, rows in sorted(counts.items()))
        raise SinksDisagree(f"the sinks loaded different numbers of rows ({listed}); the file stays in "
                            "quarantine. Find out which sink is wrong, remove the delivery from it (its rows "
                            "and its deliveries entry): the next round loads it there again")
    return next(iter(counts.values()), None)


def unresolved_settings(spec: ReceiveSpec) -> str | None:
    """Why no sink of ``spec`` may load now: a setting of one that resolves to nothing (an unset variable).

    Checked before the first sink loads, so a delivery is loaded everywhere or nowhere.
    """
    problems = []
    for sink in spec.sinks:
        check = getattr(sink.options, "unresolved", None)
        problems += [f"sink {sink.label or sink.sink.name}: {p}" for p in (check() if callable(check) else ())]
    return "; ".join(problems) + "; nothing was loaded" if problems else None
