"""What the receiver decides about a metadata file, and the Delivery a sink gets (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sf1630.api import Delivery, Transfer
from sf1630.core.specs import ReceiveSpec


@dataclass(frozen=True)
class Incoming:
    """A parsed metadata file and the source code its data file's name shows (when it follows the pattern)."""

    metadata: object  # sf1630.documents.metadata.Metadata
    metadata_name: str
    source: str | None

    @classmethod
    def parse(cls, raw: bytes, *, origin: str, metadata_name: str) -> Incoming:
        """Parse metadata (either root, any prefix) and check its data file name; DocumentError if bad."""
        from sf1630.documents.metadata import parse_metadata
        from sf1630.documents.names import check_name, parse_data_name

        md = parse_metadata(raw, origin)
        check_name(md.descriptor.file_name, origin)  # it becomes a local path
        parsed = parse_data_name(md.descriptor.file_name)  # a convenience, never a gate (rule 7)
        return cls(md, metadata_name, parsed.sender.lower() if parsed else None)


def for_us(metadata, user: str, expected_senders: tuple[str, ...] | list[str]) -> str | None:
    """Why a metadata file is not ours to take, or None when it is.

    ``Recipients`` names the delivered user; ``ROUTING_V1_0_0`` is accepted too (rule 6).
    """
    from sf1630.documents.names import ROUTING

    recipients = tuple(metadata.descriptor.recipients)
    if user not in recipients and ROUTING not in recipients:
        return f"it is addressed to {', '.join(recipients) or 'nobody'}, not to {user}"
    sender = metadata.descriptor.sender
    if expected_senders and sender not in expected_senders:
        return f"sender {sender} is not among the expected senders ({', '.join(expected_senders)})"
    return None


def delivery_of(t: Transfer, metadata_path: Path, spec: ReceiveSpec) -> Delivery:
    """The Delivery a sink loads, from the journal and the metadata kept beside the local copy."""
    from sf1630.documents.metadata import parse_metadata

    md = parse_metadata(metadata_path.read_bytes(), str(metadata_path))
    return Delivery(file_transfer_uuid=t.file_transfer_uuid or md.file_transfer_uuid, file_name=t.file_name,
                    sender=md.descriptor.sender, recipient=spec.link.user, size=int(t.size or 0),
                    source=(t.source or "").upper() or None, municipality=spec.municipality.key, metadata=md)
