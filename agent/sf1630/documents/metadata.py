"""The metadata file the platform writes beside each delivered data file (PROTOCOL.md "Metadata").

Two roots exist: ``FileMetadata`` (the 2023 contract) and ``Trigger`` carrying
``FileTransferUUID`` (what older platform clients read). Both are written and read.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from sf1630.documents import contract, xml
from sf1630.documents.names import ROUTING
from sf1630.documents.trigger import FileDescriptor, RoutingInfo, read_content, read_descriptor, \
    write_content, write_descriptor
from sf1630.errors import DocumentError

ROOTS = ("FileMetadata", "Trigger")


@dataclass(frozen=True)
class Metadata:
    """A delivered file: the platform's FileTransferUUID, the descriptor and the content descriptor."""

    file_transfer_uuid: str
    descriptor: FileDescriptor
    routing: RoutingInfo | None = None
    file_type: tuple[tuple[str, str], ...] = ()


def build_metadata(m: Metadata, root: str = "FileMetadata") -> bytes:
    """The metadata as UTF-8 XML bytes with root ``FileMetadata`` or ``Trigger``."""
    origin = "(new metadata file)"
    if root not in ROOTS:
        raise DocumentError(f"metadata root must be one of {', '.join(ROOTS)}, not {root!r}", origin)
    if ROUTING in m.descriptor.recipients:  # rule 6: name the users it was delivered to
        raise DocumentError(f"metadata Recipients name the delivered users, never {ROUTING}",
                            origin, element="Recipients")
    if not m.file_transfer_uuid.strip():   # the contract allows it; no reader could match it to a receipt
        raise DocumentError("FileTransferUUID must not be empty", origin, element="FileTransferUUID")
    top = xml.new_root(root)
    xml.sub(top, "FileTransferUUID", m.file_transfer_uuid)
    write_descriptor(top, m.descriptor, origin)
    write_content(top, m.routing, m.file_type, origin)
    return contract.finish(top, "metadata", lenient=root == "Trigger")


def parse_metadata(data: bytes, origin: str = "") -> Metadata:
    """Read metadata liberally (either root, any prefix, a default namespace, qualified children);
    DocumentError naming origin, line and element. ``Recipients`` = ``ROUTING_V1_0_0`` is accepted
    too (rule 6: receivers accept either). The receiver reads what the platform sends this way.
    """
    kind, root = contract.load(data, origin, lenient=True, wanted="metadata")
    return metadata_from(root, origin)


def metadata_from(root: etree._Element, origin: str) -> Metadata:
    """The Metadata of a loaded, schema-valid metadata root."""
    parts = xml.children(root)
    descriptor = read_descriptor(parts["FileDescriptor"], origin)
    routing, file_type = read_content(parts["FileContentDescriptor"])
    return Metadata(xml.text(parts["FileTransferUUID"]), descriptor, routing, file_type)
