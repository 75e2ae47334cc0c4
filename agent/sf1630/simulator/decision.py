"""The routing decision: from a trigger's bytes and what is in OUT/ to a receipt and deliveries.

No I/O: the caller reads the trigger and stats the data file, this module decides.
Every problem found becomes one ErrorMessage with a stable code (codes.py); a trigger that passes
every check becomes one delivery per recipient, each with its metadata (PROTOCOL.md, rules 5 and 6).
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass, field

from lxml import etree

from sf1630.documents.metadata import Metadata, build_metadata
from sf1630.documents.names import ROUTING, name_problem
from sf1630.documents.receipt import ErrorEntry, Receipt, build_receipt
from sf1630.documents.trigger import FileDescriptor, Trigger, parse_trigger
from sf1630.errors import DocumentError
from sf1630.simulator import codes
from sf1630.simulator.config import RouteConfig

MAX_TRIGGER_BYTES = 1 << 20
TRIGGER_SUFFIX, RECEIPT_SUFFIX, METADATA_SUFFIX = ".trigger", ".sftpreceipt", ".metadata"


@dataclass(frozen=True)
class Parsed:
    """A trigger read from OUT/: the Trigger, or the problem that kept it from being read."""

    trigger_name: str
    trigger: Trigger | None = None
    problem: tuple[codes.Code, str] | None = None

    @property
    def data_name(self) -> str | None:
        """The data file to lock and check: FileName when the trigger was read and it is safe."""
        return self.trigger.descriptor.file_name if self.trigger else None


@dataclass(frozen=True)
class DataFacts:
    """What the router found for the data file in OUT/ (None size: missing or not a file).

    ``locked``: another trigger's route holds the data file. ``receipt_taken``: the receipt of
    another trigger for the data file still lies unread in the sender's IN/. Either way this
    trigger's receipt is named after the trigger, so that no receipt replaces another's.
    """

    size: int | None
    locked: bool = False
    receipt_taken: bool = False


@dataclass(frozen=True)
class Decision:
    """What to do with one trigger; the journal stores exactly this before anything is done."""

    uuid: str
    user: str
    trigger_name: str
    data_name: str | None
    receipt_name: str
    receipt: bytes
    deliveries: tuple[tuple[str, bytes], ...] = ()   # (recipient user, metadata bytes)
    problems: tuple[tuple[int, str], ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def data_file(self) -> str:
        """The data file's name, which every decision that delivers has."""
        if self.data_name is None:
            raise ValueError(f"trigger {self.trigger_name} names no data file; nothing is delivered")
        return self.data_name


def _stem(trigger_name: str) -> str:
    return trigger_name[: -len(TRIGGER_SUFFIX)] if trigger_name.endswith(TRIGGER_SUFFIX) else trigger_name


def receipt_name_for(parsed: Parsed, data: DataFacts | None = None) -> str:
    """`<FileName>.sftpreceipt`; the trigger's name without `.trigger` when FileName is unknown;
    `<trigger name>.sftpreceipt` when the data file's receipt name is in use (DataFacts)."""
    if data is not None and parsed.data_name and (data.locked or data.receipt_taken):
        base = parsed.trigger_name   # never a data file's name: those may not end in .trigger
    else:
        base = parsed.data_name or _stem(parsed.trigger_name) or "trigger"
    while len((base + RECEIPT_SUFFIX).encode("utf-8")) > 255:
        base = base[:-1]
    return base + RECEIPT_SUFFIX


def _texts(root: etree._Element, local: str) -> list[str]:
    return [el.text or "" for el in root.iter() if isinstance(el.tag, str) and etree.QName(el).localname == local]


def parse(trigger_name: str, data: bytes, lenient: bool = False) -> Parsed:
    """Read a trigger; classify what is wrong with it as malformed, forbidden, bad name or schema.

    The schema is the contract's, as written (documents/contract.py); ``lenient`` reads it as the
    simulator did before it judged by the contract (`[server] lenient_triggers`).
    """
    origin = f"OUT/{trigger_name}"
    if len(data) > MAX_TRIGGER_BYTES:
        return Parsed(trigger_name, problem=(codes.SCHEMA_INVALID, f"{origin}: larger than 1 MiB"))
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return Parsed(trigger_name, problem=(codes.FORBIDDEN_XML, f"{origin}: a DOCTYPE or ENTITY declaration"))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        return Parsed(trigger_name, problem=(codes.MALFORMED_XML, f"{origin}:{exc.lineno}: {exc.msg}"))
    if root.getroottree().docinfo.internalDTD is not None:
        return Parsed(trigger_name, problem=(codes.FORBIDDEN_XML, f"{origin}: a DTD"))
    file_name = next(iter(_texts(root, "FileName")), None)
    if file_name is not None and name_problem(file_name):
        return Parsed(trigger_name, problem=(codes.BAD_FILE_NAME,
                                             f"{origin}: FileName {file_name[:80]!r}: {name_problem(file_name)}"))
    if ROUTING in _texts(root, "Recipients") and not root.xpath("//*[local-name()='SFTPDynamicRoutingInfo']"):
        return Parsed(trigger_name, problem=(codes.ROUTING_INFO_MISSING,
                                             f"{origin}: Recipients is {ROUTING} but SFTPDynamicRoutingInfo is missing"))
    try:
        return Parsed(trigger_name, trigger=parse_trigger(data, origin, lenient=lenient))
    except DocumentError as exc:
        return Parsed(trigger_name, problem=(codes.SCHEMA_INVALID, str(exc)))


def match_routes(trigger: Trigger, user: str, routes: list[RouteConfig]) -> list[str]:
    """Recipients of the routes matching the trigger's SFTPDynamicRoutingInfo and the sending user."""
    info = trigger.routing
    if info is None:
        return []
    found: list[str] = []
    for route in routes:
        it_ok = (route.recipient_it_system is None or info.recipient_it_system is None
                 or route.recipient_it_system.lower() == info.recipient_it_system.lower())
        if (route.infref == info.inf_ref and route.sender_authority == info.sender_authority
                and route.sender_it_system.lower() == info.sender_it_system.lower()
                and route.recipient_authority == info.recipient_authority
                and route.sftp_user == user and it_ok and route.recipient not in found):
            found.append(route.recipient)
    return found


def _recipients(trigger: Trigger, user: str, users: set[str], routes: list[RouteConfig],
                problems: list[tuple[codes.Code, str]]) -> list[str]:
    wanted = trigger.descriptor.recipients
    if ROUTING in wanted:
        if trigger.routing is None:
            problems.append((codes.ROUTING_INFO_MISSING, "Recipients is ROUTING_V1_0_0 without routing info"))
            return []
        found = match_routes(trigger, user, routes)
        if not found:
            info = trigger.routing
            it_system = (f"RecipientIt-system {info.recipient_it_system!r}" if info.recipient_it_system
                         else "no RecipientIt-system")
            problems.append((codes.NO_ROUTE, f"no route for InfRef {info.inf_ref!r}, SenderAuthority "
                             f"{info.sender_authority!r}, SenderIt-system {info.sender_it_system!r}, "
                             f"RecipientAuthority {info.recipient_authority!r}, {it_system}, SFTP user {user!r}"))
        return found
    unknown = [name for name in wanted if name not in users]
    problems += [(codes.UNKNOWN_RECIPIENT, f"recipient {name!r} is not a known SFTP user") for name in unknown]
    return list(dict.fromkeys(name for name in wanted if name in users))


def decide(user: str, parsed: Parsed, data: DataFacts, users: set[str], routes: list[RouteConfig],
           metadata_root: str = "FileMetadata", transfer_uuid: str | None = None) -> Decision:
    """Check a trigger sent by `user` and say what to write: the receipt and, if it passed, deliveries."""
    transfer_uuid = transfer_uuid or str(uuidlib.uuid4())
    problems: list[tuple[codes.Code, str]] = [parsed.problem] if parsed.problem else []
    trigger, recipients = parsed.trigger, []
    if trigger is not None and data.locked:
        problems.append((codes.DATA_LOCKED, f"OUT/{parsed.data_name} is being processed for another trigger, "
                         "which decides what becomes of it; this trigger is refused and removed"))
    elif trigger is not None:
        d = trigger.descriptor
        if data.size is None:
            problems.append((codes.DATA_MISSING, f"OUT/{d.file_name} does not exist"))
        elif data.size != d.size_in_bytes:
            problems.append((codes.SIZE_MISMATCH, f"OUT/{d.file_name} has {data.size} bytes, "
                             f"SizeInBytes says {d.size_in_bytes}"))
        if d.sender != user:
            problems.append((codes.SENDER_MISMATCH,
                             f"Sender is {d.sender!r} but the trigger was uploaded by {user!r}"))
        recipients = _recipients(trigger, user, users, routes, problems)
    senders_file_id = trigger.descriptor.senders_file_id if trigger else None
    if problems:
        entries = tuple(ErrorEntry(code.number, code.description, text) for code, text in problems)
        receipt = Receipt(transfer_uuid, senders_file_id, errors=entries)
    else:
        receipt = Receipt(transfer_uuid, senders_file_id, message="SUCCESS")
    deliveries = tuple((name, _metadata(trigger, name, transfer_uuid, metadata_root))
                       for name in recipients) if not problems and trigger else ()
    data_name = None if data.locked else parsed.data_name   # the other trigger's route holds it
    return Decision(transfer_uuid, user, parsed.trigger_name, data_name, receipt_name_for(parsed, data),
                    build_receipt(receipt), deliveries, tuple((c.number, text) for c, text in problems))


def _metadata(trigger: Trigger, recipient: str, transfer_uuid: str, root: str) -> bytes:
    d = trigger.descriptor
    # Rule 6: Recipients names the user the file was delivered to; rule 5: the file type is copied.
    descriptor = FileDescriptor(d.file_name, d.size_in_bytes, d.sender, (recipient,), d.senders_file_id)
    return build_metadata(Metadata(transfer_uuid, descriptor, trigger.routing, trigger.file_type), root=root)
