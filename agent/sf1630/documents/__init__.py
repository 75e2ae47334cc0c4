"""The documents that cross the SFTP server in SF1630, and their file names. Pure: bytes in, bytes out.

Triggers (:mod:`.trigger`), technical receipts (:mod:`.receipt`), metadata (:mod:`.metadata`) and
file names (:mod:`.names`). Every document is checked against the project's schema when written
and when read (:mod:`.xml`, :mod:`.contract`); every problem is a :class:`sf1630.errors.DocumentError`.
"""

from __future__ import annotations

from sf1630.documents import contract, xml
from sf1630.documents.metadata import Metadata, build_metadata, metadata_from, parse_metadata
from sf1630.documents.names import (INF_REF, ROUTING, DataName, check_name, data_file_name,
                                    data_name_from_trigger, metadata_name, parse_data_name,
                                    receipt_name, trigger_name)
from sf1630.documents.receipt import ErrorEntry, Receipt, build_receipt, parse_receipt, receipt_from
from sf1630.documents.trigger import (FILE_TYPE, FileDescriptor, RoutingInfo, Trigger, build_trigger,
                                      parse_trigger, route_selection_date, sender_timestamp, trigger_from)
from sf1630.documents.xml import MAX_BYTES, NS, InvalidDocument

__all__ = [
    "FILE_TYPE", "INF_REF", "MAX_BYTES", "NS", "ROUTING", "DataName", "ErrorEntry", "FileDescriptor",
    "InvalidDocument", "Metadata", "Receipt", "RoutingInfo", "Trigger", "build_metadata", "build_receipt",
    "build_trigger", "check_name", "data_file_name", "data_name_from_trigger", "detect", "metadata_name",
    "parse_data_name", "parse_document", "parse_metadata", "parse_receipt", "parse_trigger",
    "receipt_name", "route_selection_date", "sender_timestamp", "trigger_name",
]


def detect(data: bytes, origin: str = "") -> str:
    """Which document ``data`` is: ``"trigger"``, ``"receipt"`` or ``"metadata"`` (no schema check).

    A ``Trigger`` root that carries ``FileTransferUUID`` is metadata (older clients' form).
    """
    root = xml.parse_xml(data, origin)
    xml.normalize(root, origin)
    return xml.kind_of(root, origin)


def parse_document(data: bytes, origin: str = "", lenient: bool = False) -> Trigger | Receipt | Metadata:
    """Parse whichever SF1630 document ``data`` is: strictly, as the contract judges it, by default;
    ``lenient`` reads it as the receiver reads what the platform sends."""
    kind, root = contract.load(data, origin, lenient=lenient)
    if kind == "trigger":
        return trigger_from(root, origin)
    if kind == "receipt":
        return receipt_from(root)
    return metadata_from(root, origin)
