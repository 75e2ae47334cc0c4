"""Judging a document as KOMBIT's contract does, and the liberal reading of what the platform sends.

The contract (schema/kombit-2023-09-26/SFTPTypes.xsd) wants the root element in the SF1630
namespace and every element inside it in none; the project's schema (schema/sf1630.xsd) accepts the
same documents, the seed's file type aside (docs/PROTOCOL.md rule 5). :func:`check` reports the
qualification in words a vendor can act on, then the schema's complaints about the rest.
:func:`load` reads every document (strictly, or liberally) and :func:`finish` writes every one.

Readers of what the platform writes stay liberal (docs/PROTOCOL.md, "Decisions"): any prefix, a
default namespace, a ``Trigger`` root carrying ``FileTransferUUID``, other namespaces' elements
taken laxly. That reading uses a schema derived from the strict one here, so the two never drift.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources

from lxml import etree

from sf1630.documents import xml
from sf1630.errors import DocumentError

XS = "http://www.w3.org/2001/XMLSchema"
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
KOMBIT_DIR = "schema/kombit-2023-09-26"
_QUALIFY_HINT = ("the contract wants only the root element in the namespace and every element inside "
                 "it without a prefix")


@functools.cache
def strict_schema() -> etree.XMLSchema:
    """The project's schema: the contract's verdict, with the rule-5 file type allowed."""
    return etree.XMLSchema(_schema_tree())


@functools.cache
def lenient_schema() -> etree.XMLSchema:
    """The strict schema, plus what older platform clients read: a ``Trigger`` root may start with
    ``FileTransferUUID``, and other namespaces' elements are checked only where a schema is known."""
    tree = _schema_tree()
    for wildcard in tree.iter(f"{{{XS}}}any"):
        if wildcard.get("namespace") == "##other":
            wildcard.set("processContents", "lax")
    trigger = tree.find(f"{{{XS}}}complexType[@name='TriggerType']/{{{XS}}}sequence")
    uuid = etree.Element(f"{{{XS}}}element", name="FileTransferUUID", type="xs:string", minOccurs="0")
    trigger.insert(0, uuid)
    return etree.XMLSchema(tree)


def _schema_tree() -> etree._Element:
    data = resources.files(__package__).joinpath("schema/sf1630.xsd").read_bytes()
    return etree.fromstring(data, xml.make_parser())


def kombit_xsd_path() -> str:
    """Where the shipped copy of KOMBIT's SFTPTypes.xsd lies (for `validate --xsd` and the tests)."""
    return str(resources.files(__package__).joinpath(KOMBIT_DIR, "SFTPTypes.xsd"))


def qualification_problems(root: etree._Element, origin: str = "") -> list[DocumentError]:
    """Where the document, as written, puts elements into the wrong namespace for the contract."""
    ns, local = xml.split(root.tag)
    if ns is None:
        return [DocumentError(f"the root element <{local}> has no namespace; the contract wants it in "
                              f"{xml.NS!r}: write <ns2:{local} xmlns:ns2=\"{xml.NS}\">", origin,
                              root.sourceline, local)]
    if ns != xml.NS or not xml.has_qualified(root):
        return []   # normalize() refuses a foreign root with its own message
    if root.prefix is None and any(xml.split(el.tag)[0] == xml.NS for el in _inner(root)):
        return [DocumentError(f"the namespace is the default (xmlns=\"{xml.NS}\"), which puts every "
                              f"element inside <{local}> into it too; {_QUALIFY_HINT}: declare it with a "
                              f"prefix, <ns2:{local} xmlns:ns2=\"{xml.NS}\">", origin, root.sourceline, local)]
    qualified = [el for el in _inner(root) if xml.split(el.tag)[0] == xml.NS]
    if not qualified:
        return []
    first, name = qualified[0], xml.split(qualified[0].tag)[1]
    more = f" and {len(qualified) - 1} more element(s) inside <{local}> are" if len(qualified) > 1 else " is"
    return [DocumentError(f"<{first.prefix}:{name}>{more} in the namespace; {_QUALIFY_HINT}: write <{name}>",
                          origin, first.sourceline, name)]


def _inner(parent: etree._Element):
    """Every element below ``parent`` except what a RouteParameter carries (any namespace there)."""
    for child in parent:
        if isinstance(child.tag, str):
            yield child
            if xml.split(child.tag)[1] != "RouteParameter":
                yield from _inner(child)


def check(root: etree._Element, origin: str = "") -> tuple[str, list[DocumentError]]:
    """The document's kind and every point where the contract refuses it (rule 5 aside).

    Normalizes ``root`` in place (xml.normalize); a root that is no SF1630 document raises.
    """
    problems = qualification_problems(root, origin)
    xml.normalize(root, origin)
    kind = xml.kind_of(root, origin)
    judged = root
    if kind == "metadata" and xml.split(root.tag)[1] == "Trigger":
        problems.append(DocumentError(
            "the root of a metadata file is FileMetadata in the contract; a Trigger root carrying "
            "FileTransferUUID is the form older platform clients read", origin, root.sourceline, "Trigger"))
        judged = copy.deepcopy(root)
        judged.tag = f"{{{xml.NS}}}FileMetadata"
    return kind, problems + xml.schema_problems(judged, strict_schema(), origin)


def schema(lenient: bool = False) -> etree.XMLSchema:
    """The project's schema: strict (the contract's verdict) or the liberal reader's (contract.py)."""
    return lenient_schema() if lenient else strict_schema()


def validate(root: etree._Element, origin: str = "", lenient: bool = False) -> None:
    """Raise InvalidDocument listing every violation of the (strict or liberal) schema, on a normalized root."""
    problems = xml.schema_problems(root, schema(lenient), origin)
    if problems:
        raise xml.InvalidDocument(problems)


def load(data: bytes, origin: str = "", lenient: bool = False,
         wanted: str | None = None) -> tuple[str, etree._Element]:
    """Parse and check a document; return its kind and its normalized root.

    Strict (the default) judges the document as written, as the contract does; ``lenient`` is the
    liberal reading of what the platform writes (any prefix, default namespace, Trigger-root metadata).
    ``wanted``: refuse a document of another kind first, e.g. a receipt handed to parse_trigger.
    """
    root = xml.parse_xml(data, origin)
    if not lenient:
        kind, problems = check(root, origin)
        if wanted:
            expect(root, kind, wanted, origin)
        if problems:
            raise xml.InvalidDocument(problems)
        return kind, root
    xml.normalize(root, origin)
    kind = xml.kind_of(root, origin)
    if wanted:
        expect(root, kind, wanted, origin)
    validate(root, origin, lenient=True)
    return kind, root


def expect(root: etree._Element, kind: str, wanted: str, origin: str) -> None:
    """Refuse a document of the wrong kind, e.g. a receipt handed to parse_trigger."""
    if kind != wanted:
        trigger_root = kind == "metadata" and xml.split(root.tag)[1] == "Trigger"
        why = (" (<FileTransferUUID> makes a Trigger root metadata, the form older platform clients read; "
               "a trigger starts with <FileDescriptor>)" if trigger_root else "")
        raise DocumentError(f"this is a {xml.KINDS[kind]}, not a {xml.KINDS[wanted]}{why}", origin,
                            root.sourceline, xml.split(root.tag)[1])


def finish(root: etree._Element, kind: str, lenient: bool = False) -> bytes:
    """Serialize as UTF-8 with an XML declaration, then read it back and check it as written.

    ``lenient`` only for the older clients' metadata form (a Trigger root), which the contract lacks.
    """
    data = _DECLARATION + etree.tostring(root, encoding="UTF-8", pretty_print=True)
    load(data, f"(new {xml.KINDS[kind]})", lenient=lenient)
    return data
