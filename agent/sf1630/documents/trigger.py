"""The trigger a source writes beside its data file (PROTOCOL.md "Trigger").

The FileDescriptor and FileContentDescriptor helpers here are shared with metadata.py, which
carries the same two elements.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from lxml import etree

from sf1630.documents import contract, xml
from sf1630.documents.names import ROUTING, check_name
from sf1630.errors import DocumentError

FILE_TYPE: tuple[tuple[str, str], ...] = (("FilType", "LIS"), ("SF", "1630"))  # rule 5
_ROUTING_FIELDS = (  # element name, attribute of RoutingInfo, in the XSD's order
    ("InfRef", "inf_ref"), ("SenderIt-system", "sender_it_system"),
    ("SenderAuthority", "sender_authority"), ("TransactionId", "transaction_id"),
    ("SenderTimestamp", "sender_timestamp"), ("RecipientIt-system", "recipient_it_system"),
    ("RecipientAuthority", "recipient_authority"),
)


@dataclass(frozen=True)
class FileDescriptor:
    """What is sent: the data file's name and exact size, the sender's SFTP user, the recipients.

    ``recipients`` holds SFTP users (simple SFTP) or the single value ``ROUTING_V1_0_0``.
    """

    file_name: str
    size_in_bytes: int
    sender: str
    recipients: tuple[str, ...]
    senders_file_id: str | None = None

    @property
    def dynamic(self) -> bool:
        """True when the recipients are left to the platform's routes (``ROUTING_V1_0_0``)."""
        return tuple(self.recipients) == (ROUTING,)


@dataclass(frozen=True)
class RoutingInfo:
    """``SFTPDynamicRoutingInfo``: the values a route is looked up by.

    ``route_parameters`` holds one XML element per ``RouteParameter`` as a string, e.g. from
    :func:`route_selection_date`.
    """

    inf_ref: str
    sender_it_system: str
    sender_authority: str
    transaction_id: str
    sender_timestamp: str
    recipient_authority: str
    recipient_it_system: str | None = None
    route_parameters: tuple[str, ...] = ()


@dataclass(frozen=True)
class Trigger:
    """A trigger: the descriptor plus either routing info (dynamic) or a file type (simple, rule 5)."""

    descriptor: FileDescriptor
    routing: RoutingInfo | None = None
    file_type: tuple[tuple[str, str], ...] = ()


def sender_timestamp(when: datetime) -> str:
    """``SenderTimestamp`` text, ``YYYY-MM-DDThh:mm:ss.sss`` as the seed shows it."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}"


def route_selection_date(day: date) -> str:
    """A ``RouteParameter`` value holding ``RouteSelectionValueDate`` (the route must be valid that day)."""
    el = etree.Element(f"{{{xml.NS}}}RouteSelectionValueDate", nsmap={xml.PREFIX: xml.NS})
    el.text = day.isoformat()
    return etree.tostring(el, encoding="unicode")


def build_trigger(t: Trigger) -> bytes:
    """The trigger as UTF-8 XML bytes; DocumentError when it would be invalid."""
    d = t.descriptor
    if ROUTING in d.recipients and not d.dynamic:
        raise DocumentError(f"{ROUTING} must be the only recipient", "(new trigger)", element="Recipients")
    if d.dynamic != (t.routing is not None):
        raise DocumentError(f"a trigger has routing info exactly when its recipient is {ROUTING}",
                            "(new trigger)", element="SFTPDynamicRoutingInfo")
    root = xml.new_root("Trigger")
    write_descriptor(root, d, "(new trigger)")
    write_content(root, t.routing, t.file_type, "(new trigger)")
    return contract.finish(root, "trigger")


def parse_trigger(data: bytes, origin: str = "", lenient: bool = False) -> Trigger:
    """Read a trigger as the contract judges it; DocumentError naming origin, line and element.

    ``lenient`` takes any prefix, a default namespace and other namespaces' elements (the
    simulator's ``lenient_triggers``).
    """
    kind, root = contract.load(data, origin, lenient=lenient, wanted="trigger")
    return trigger_from(root, origin)


def trigger_from(root: etree._Element, origin: str) -> Trigger:
    """The Trigger of a loaded, schema-valid trigger root."""
    parts = xml.children(root)
    descriptor = read_descriptor(parts["FileDescriptor"], origin)
    routing, file_type = read_content(parts["FileContentDescriptor"])
    recipients = [el for el in parts["FileDescriptor"] if el.tag == "Recipients"]
    if ROUTING in descriptor.recipients and not descriptor.dynamic:
        raise DocumentError(f"{ROUTING} must be the only recipient", origin,
                            recipients[0].sourceline, "Recipients")
    if descriptor.dynamic and routing is None:
        raise DocumentError(f"Recipients is {ROUTING} but FileContentDescriptor has no "
                            "SFTPDynamicRoutingInfo", origin, recipients[0].sourceline, "FileContentDescriptor")
    if routing is not None and not descriptor.dynamic:
        raise DocumentError(f"SFTPDynamicRoutingInfo needs Recipients = {ROUTING} (dynamic routing); "
                            "name the recipients or remove the routing info", origin,
                            recipients[0].sourceline, "Recipients")
    return Trigger(descriptor, routing, file_type)


def write_descriptor(parent: etree._Element, d: FileDescriptor, origin: str) -> None:
    """Append ``FileDescriptor``; the data file's name must be safe (names.check_name)."""
    check_name(d.file_name, origin)
    fd = xml.sub(parent, "FileDescriptor")
    xml.sub(fd, "FileName", d.file_name)
    xml.sub(fd, "SizeInBytes", d.size_in_bytes)
    xml.sub(fd, "Sender", d.sender)
    if d.senders_file_id is not None:
        xml.sub(fd, "SendersFileId", d.senders_file_id)
    if isinstance(d.recipients, str):
        raise DocumentError("recipients must be a tuple of names, not one string", origin, element="Recipients")
    for user in d.recipients:
        xml.sub(fd, "Recipients", user)


def write_content(parent: etree._Element, routing: RoutingInfo | None,
                  file_type: tuple[tuple[str, str], ...], origin: str) -> None:
    """Append ``FileContentDescriptor``: empty, routing info, or file-type elements (not both)."""
    if routing is not None and file_type:
        raise DocumentError("FileContentDescriptor holds SFTPDynamicRoutingInfo or a file type, not both "
                            "(PROTOCOL.md rule 5)", origin, element="FileContentDescriptor")
    fcd = xml.sub(parent, "FileContentDescriptor")
    for tag, value in file_type:
        xml.sub(fcd, tag, value)
    if routing is None:
        return
    info = xml.sub(fcd, "SFTPDynamicRoutingInfo")
    for tag, attr in _ROUTING_FIELDS:
        if getattr(routing, attr) is not None:
            xml.sub(info, tag, getattr(routing, attr))
    if routing.route_parameters:
        params = xml.sub(info, "RouteParameterList")
        for value in routing.route_parameters:
            value_root = xml.parse_xml(value.encode("utf-8"), "(RouteParameter value)")
            xml.sub(params, "RouteParameter").append(xml.rebuild(value_root))


def read_descriptor(fd: etree._Element, origin: str) -> FileDescriptor:
    """The FileDescriptor of a schema-valid element; names are checked as names.check_name does."""
    values: dict[str, str] = {}
    recipients: list[str] = []
    for el in fd:
        value = xml.text(el)
        if el.tag in ("FileName", "Sender", "Recipients"):
            _check_name_at(value, el, origin)
        if el.tag == "Recipients":
            recipients.append(value)
        else:
            values[el.tag] = value
    return FileDescriptor(values["FileName"], int(values["SizeInBytes"]), values["Sender"],
                          tuple(recipients), values.get("SendersFileId"))


def _check_name_at(value: str, el: etree._Element, origin: str) -> None:
    try:
        check_name(value)
    except DocumentError as exc:
        raise DocumentError(exc.reason, origin, el.sourceline, el.tag) from None


def read_content(fcd: etree._Element) -> tuple[RoutingInfo | None, tuple[tuple[str, str], ...]]:
    """Routing info, or the other elements kept as (tag, text) pairs (file type, rule 5)."""
    items = list(fcd)
    if items and items[0].tag == "SFTPDynamicRoutingInfo":
        return _read_routing(items[0]), ()
    return None, tuple((el.tag, xml.text(el)) for el in items)


def _read_routing(info: etree._Element) -> RoutingInfo:
    parts = xml.children(info)
    values = {attr: xml.text(parts[tag]) for tag, attr in _ROUTING_FIELDS if tag in parts}
    params = parts.get("RouteParameterList")
    route_parameters = tuple(xml.fragment(p[0]) for p in params) if params is not None else ()
    return RoutingInfo(**values, route_parameters=route_parameters)
