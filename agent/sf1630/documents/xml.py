"""The project's one hardened XML parser, the schema's error messages, and small tree helpers.

Every SF1630 document is read through ``contract.load`` and written through ``contract.finish``,
which parse here, so reader and writer share the same limits and the same schema
(``schema/sf1630.xsd``, as strict as KOMBIT's contract). Readers of what the platform writes may ask
for the liberal reading (docs/PROTOCOL.md, "Decisions"); the writer always puts the namespace on the
root only, as ``ns2``.
"""

from __future__ import annotations

import re
import threading

from lxml import etree

from sf1630.errors import DocumentError

NS = "http://serviceplatformen.dk/xml/wsdl/soap11/SFTP/1/types"
PREFIX = "ns2"  # the prefix older platform clients look for (PROTOCOL.md "Older clients")
MAX_BYTES = 1 << 20  # no SF1630 document comes near this; anything bigger is refused unparsed
KINDS = {"trigger": "trigger", "receipt": "technical receipt", "metadata": "metadata file"}
_BUILT = "(document being written)"
_schema_lock = threading.Lock()  # an XMLSchema object keeps one error log; don't share it mid-run


class InvalidDocument(DocumentError):
    """A document breaks the schema; ``problems`` holds one DocumentError per problem found."""

    def __init__(self, problems: list[DocumentError]):
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(first.reason + more, first.origin, first.line, first.element)
        self.problems: tuple[DocumentError, ...] = tuple(problems)


def make_parser() -> etree.XMLParser:
    """The hardened parser: no entities, no DTD, no network, no huge trees."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=True, remove_pis=True, collect_ids=False,
    )


def split(tag: str) -> tuple[str | None, str]:
    """``"{ns}local"`` -> ``("ns", "local")``; ``"local"`` -> ``(None, "local")``."""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return None, tag


def parse_xml(data: bytes, origin: str = "") -> etree._Element:
    """Parse ``data`` with the hardened parser; refuse oversize input and any DOCTYPE."""
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"documents are parsed from bytes, not {type(data).__name__}")
    if len(data) > MAX_BYTES:
        raise DocumentError(
            f"document is over the limit of {MAX_BYTES} bytes (1 MiB); "
            "an SF1630 trigger, receipt or metadata file is a few hundred bytes", origin)
    at = data.find(b"<!DOCTYPE")
    if at >= 0:
        _refuse_doctype(origin, data.count(b"\n", 0, at) + 1)
    try:
        root = etree.fromstring(bytes(data), make_parser())
    except etree.XMLSyntaxError as exc:
        msg = re.sub(r", line \d+, column \d+$", "", exc.msg or "syntax error")
        tag = re.search(r"\btag (\S+)", msg)
        raise DocumentError(f"not well-formed XML: {msg}", origin, exc.lineno,
                            tag.group(1) if tag else None) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:  # e.g. a DOCTYPE in UTF-16 input
        _refuse_doctype(origin, 1)
    return root


def _refuse_doctype(origin: str, line: int) -> None:
    # No SF1630 document has a DTD; refusing one outright blocks XXE and entity expansion.
    raise DocumentError("a DOCTYPE is not allowed in SF1630 documents (it could declare entities); "
                        "remove the <!DOCTYPE ...> declaration", origin, line)


def normalize(root: etree._Element, origin: str = "") -> None:
    """Put the root into the SF1630 namespace and its descendants into none, in place.

    Accepts any prefix, no namespace at all, and a default namespace (``xmlns="..."``) whose
    children are then qualified. The content of a ``RouteParameter`` is left as it is.
    """
    ns, local = split(root.tag)
    if ns is None:
        root.tag = f"{{{NS}}}{local}"
    elif ns != NS:
        raise DocumentError(f"root element is in namespace {ns!r}; SF1630 documents use {NS!r}",
                            origin, root.sourceline, local)
    if has_qualified(root):
        _unqualify(root)


def has_qualified(root: etree._Element) -> bool:
    """Whether any element below ``root`` is in the SF1630 namespace (one search in C).

    Documents as the contract writes them have none, and then nothing below needs a look.
    """
    return root.find(f".//{{{NS}}}*") is not None


def _unqualify(parent: etree._Element) -> None:
    for child in parent:
        ns, local = split(child.tag)
        if ns == NS:
            child.tag = local
        if local != "RouteParameter":
            _unqualify(child)


def kind_of(root: etree._Element, origin: str = "") -> str:
    """``"trigger"``, ``"receipt"`` or ``"metadata"`` for a normalized root; DocumentError otherwise."""
    local = split(root.tag)[1]
    if local == "Trigger":
        first = root[0].tag if len(root) else ""
        return "metadata" if first == "FileTransferUUID" else "trigger"  # older clients' metadata
    if local == "FileMetadata":
        return "metadata"
    if local == "TechnicalReceipt":
        return "receipt"
    raise DocumentError(f"root element <{local}> is not an SF1630 document; expected Trigger, "
                        "TechnicalReceipt or FileMetadata", origin, root.sourceline, local)


def schema_problems(root: etree._Element, xsd: etree.XMLSchema, origin: str = "") -> list[DocumentError]:
    """Every violation of ``xsd`` in the tree, each with its line and element."""
    with _schema_lock:
        try:
            if xsd.validate(root):
                return []
        except etree.XMLSchemaValidateError as exc:   # e.g. an entity reference left unexpanded
            return [DocumentError(f"cannot be checked against the schema: {exc}", origin)]
        entries = list(xsd.error_log)
    problems = []
    for entry in entries:
        named = re.match(r"Element '(?:\{[^}]*\})?([^']+)'(?:, (attribute '[^']+'))?: ", entry.message)
        message = entry.message[named.end():] if named else entry.message
        if named and named.group(2):
            message = f"{named.group(2)}: {message}"
        problems.append(DocumentError(message.rstrip(), origin, entry.line or None,
                                      named.group(1) if named else None))
    return problems


# --- reading helpers (on a normalized, schema-valid tree) ---------------------------------------

def text(el: etree._Element) -> str:
    """The element's text content, surrounding whitespace removed."""
    return "".join(el.itertext()).strip()


def children(el: etree._Element) -> dict[str, etree._Element]:
    """First child of each name (the schema already fixed their number and order)."""
    found: dict[str, etree._Element] = {}
    for child in el:
        found.setdefault(child.tag, child)
    return found


def fragment(el: etree._Element) -> str:
    """One element as a self-contained XML string, the SF1630 namespace on prefix ``ns2``.

    Prefixes are chosen afresh so that equal content gives equal strings (RouteParameter values).
    """
    alone = rebuild(el)
    etree.cleanup_namespaces(alone)
    return etree.tostring(alone, encoding="unicode")


def rebuild(src: etree._Element, parent: etree._Element | None = None) -> etree._Element:
    """A copy of ``src`` whose SF1630-namespace elements use the prefix ``ns2``."""
    el = etree.Element(src.tag, nsmap={PREFIX: NS}) if parent is None else etree.SubElement(parent, src.tag)
    el.attrib.update(src.attrib)
    el.text = src.text
    for child in src:
        rebuild(child, el).tail = child.tail
    return el


# --- writing helpers ---------------------------------------------------------------------------

def new_root(name: str) -> etree._Element:
    """A root element in the SF1630 namespace with the prefix ``ns2``."""
    return etree.Element(f"{{{NS}}}{name}", nsmap={PREFIX: NS})


def sub(parent: etree._Element, name: str, value: object = None) -> etree._Element:
    """Append an unqualified child with optional text; unwritable values raise DocumentError."""
    try:
        el = etree.SubElement(parent, name)
        if value is not None:
            el.text = str(value)
    except ValueError as exc:  # control characters, invalid tag names
        raise DocumentError(f"cannot write {value!r} as XML: {exc}", _BUILT,
                            element=split(name)[1]) from None
    return el
