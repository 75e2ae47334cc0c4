"""The technical receipt the platform writes into the sender's ``IN/`` (PROTOCOL.md "Technical receipt")."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from sf1630.documents import contract, xml
from sf1630.errors import DocumentError

SUCCESS = "SUCCESS"


@dataclass(frozen=True)
class ErrorEntry:
    """One ``ErrorMessage``: a code, its fixed description, and what went wrong this time."""

    code: int
    code_description: str
    description: str


@dataclass(frozen=True)
class Receipt:
    """A technical receipt: ``message`` on success, one ErrorEntry per problem on failure."""

    file_transfer_uuid: str
    senders_file_id: str | None = None
    message: str | None = None
    errors: tuple[ErrorEntry, ...] = ()

    @property
    def ok(self) -> bool:
        """True for a delivered file: ``Message`` is ``SUCCESS`` and no errors (as existing clients read it)."""
        return self.message == SUCCESS and not self.errors


def build_receipt(r: Receipt) -> bytes:
    """The receipt as UTF-8 XML bytes; exactly one of ``message`` and ``errors`` must be given."""
    if (r.message is None) == (not r.errors):
        raise DocumentError("a receipt has either a message or errors, exactly one of them",
                            "(new technical receipt)", element="TechnicalReceipt")
    if not r.file_transfer_uuid.strip():   # the contract allows it; the sender could not log or match it
        raise DocumentError("FileTransferUUID must not be empty", "(new technical receipt)",
                            element="FileTransferUUID")
    root = xml.new_root("TechnicalReceipt")
    xml.sub(root, "FileTransferUUID", r.file_transfer_uuid)
    if r.senders_file_id is not None:
        xml.sub(root, "SendersFileId", r.senders_file_id)
    if r.message is not None:
        xml.sub(xml.sub(root, "Receipt"), "Message", r.message)
    for entry in r.errors:
        error = xml.sub(root, "ErrorMessage")
        xml.sub(error, "ErrorCode", int(entry.code))
        xml.sub(error, "ErrorCodeDescription", entry.code_description)
        xml.sub(error, "ErrorDescription", entry.description)
    return contract.finish(root, "receipt")


def parse_receipt(data: bytes, origin: str = "") -> Receipt:
    """Read a technical receipt liberally (any prefix, a default namespace, qualified children);
    DocumentError naming origin, line, element. The sender reads the platform's receipts this way."""
    kind, root = contract.load(data, origin, lenient=True, wanted="receipt")
    return receipt_from(root)


def receipt_from(root: etree._Element) -> Receipt:
    """The Receipt of a loaded, schema-valid receipt root."""
    parts = xml.children(root)
    sfid = parts.get("SendersFileId")
    message = parts.get("Receipt")
    errors = tuple(_entry(el) for el in root if el.tag == "ErrorMessage")
    return Receipt(xml.text(parts["FileTransferUUID"]), xml.text(sfid) if sfid is not None else None,
                   xml.text(message) if message is not None else None, errors)


def _entry(el: etree._Element) -> ErrorEntry:
    parts = xml.children(el)
    return ErrorEntry(int(xml.text(parts["ErrorCode"])), xml.text(parts["ErrorCodeDescription"]),
                      xml.text(parts["ErrorDescription"]))
