"""`sf1630 validate FILE...`: say which SF1630 document each file is and whether it is valid."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEVIATION_NOTE = ("note: <FilType>/<SF> in FileContentDescriptor is the one known deviation from "
                  "KOMBIT's 2023 XSD (PROTOCOL.md rule 5): the seed requires it, that XSD refuses it")
TRIGGER_ROOT_NOTE = ("note: metadata with a Trigger root is the form older platform clients read "
                     "(PROTOCOL.md 'The metadata root'); KOMBIT's 2023 XSD names the root FileMetadata")


def register(subparsers: Any) -> None:
    """Add the `validate` command."""
    parser = subparsers.add_parser(
        "validate", help="check trigger, receipt and metadata files",
        description="Say which SF1630 document each FILE is (trigger, technical receipt, metadata) "
                    "and whether it is valid. Exit 1 when any file has a problem.")
    parser.add_argument("files", nargs="+", metavar="FILE", type=Path)
    parser.add_argument("--xsd", metavar="DIR", type=Path,
                        help="also validate against KOMBIT's XSD folder (holding SFTPTypes.xsd)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check every file; print one verdict per file and one line per problem."""
    official = _load_official(args.xsd) if args.xsd else None
    failed = False
    for path in args.files:
        lines, ok = check_file(path, official)
        for line in lines:
            print(line)
        failed |= not ok
    return 1 if failed else 0


def check_file(path: Path, official: Any = None) -> tuple[list[str], bool]:
    """The lines to print for one file, and whether it is free of problems."""
    from sf1630.documents import xml
    from sf1630.errors import DocumentError

    try:
        with path.open("rb") as handle:
            data = handle.read(xml.MAX_BYTES + 1)
    except OSError as exc:
        return [f"{path}: cannot read: {exc.strerror or exc}"], False
    origin, kind = str(path), None
    try:
        root = xml.parse_xml(data, origin)
        xml.normalize(root, origin)
        kind = xml.kind_of(root, origin)
        xml.validate(root, origin)
        doc = _read(kind, root, origin)
    except DocumentError as exc:  # InvalidDocument lists every schema problem
        head = [f"{path}: {xml.KINDS[kind]}: invalid"] if kind else []
        return head + [str(p) for p in getattr(exc, "problems", (exc,))], False
    lines = [f"{path}: {describe(doc)}: valid"]
    lines += [f"{path}: {note}" for note in _notes(doc, xml.split(root.tag)[1])]
    if official is None:
        return lines, True
    verdict, ok = _official_verdict(data, official, path)
    return lines + verdict, ok


def _read(kind: str, root: Any, origin: str) -> Any:
    from sf1630.documents import metadata_from, receipt_from, trigger_from

    if kind == "receipt":
        return receipt_from(root)
    return (trigger_from if kind == "trigger" else metadata_from)(root, origin)


def describe(doc: Any) -> str:
    """A short description: the kind of document and what it carries."""
    from sf1630.documents import Metadata, Receipt, Trigger

    if isinstance(doc, Trigger):
        d = doc.descriptor
        if doc.routing is not None:
            return f"trigger, dynamic routing (InfRef {doc.routing.inf_ref}), data file {d.file_name}"
        return f"trigger, simple SFTP to {', '.join(d.recipients)}, data file {d.file_name}"
    if isinstance(doc, Receipt):
        status = "SUCCESS" if doc.ok else f"{len(doc.errors)} error(s)" if doc.errors else repr(doc.message)
        return f"technical receipt ({status}), FileTransferUUID {doc.file_transfer_uuid}"
    assert isinstance(doc, Metadata)
    return f"metadata file, FileTransferUUID {doc.file_transfer_uuid}, data file {doc.descriptor.file_name}"


def _notes(doc: Any, root_name: str) -> list[str]:
    from sf1630.documents import Metadata

    notes = [DEVIATION_NOTE] if getattr(doc, "file_type", ()) and doc.file_type[0][0] == "FilType" else []
    if isinstance(doc, Metadata) and root_name == "Trigger":
        notes.append(TRIGGER_ROOT_NOTE)
    return notes


def _load_official(folder: Path) -> Any:
    from lxml import etree

    from sf1630.documents.xml import make_parser
    from sf1630.errors import Sf1630Error

    main = folder / "SFTPTypes.xsd"
    try:
        return etree.XMLSchema(etree.parse(str(main), make_parser()))
    except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
        raise Sf1630Error(f"{main}: cannot load KOMBIT's XSD: {exc}; pass the folder that holds "
                          "SFTPTypes.xsd and the files it includes") from None


def _official_verdict(data: bytes, official: Any, path: Path) -> tuple[list[str], bool]:
    """KOMBIT's verdict on the file as written; the known deviations alone are not problems."""
    from sf1630.documents import xml

    root = xml.parse_xml(data, str(path))
    problems = xml.schema_problems(root, official, str(path))
    if not problems:
        return [f"{path}: KOMBIT XSD: valid"], True
    if _deviations_only(root, official):
        return [f"{path}: KOMBIT XSD: refused, for the known deviation(s) noted above only"], True
    return [f"{path}: KOMBIT XSD: invalid"] + [f"{p} (KOMBIT XSD)" for p in problems], False


def _deviations_only(root: Any, official: Any) -> bool:
    """Whether the document passes KOMBIT's XSD once the file type and a Trigger metadata root go."""
    from sf1630.documents import xml

    ns, local = xml.split(root.tag)
    if local == "Trigger" and len(root) and xml.split(root[0].tag)[1] == "FileTransferUUID":
        root.tag = f"{{{ns}}}FileMetadata" if ns else "FileMetadata"
    for fcd in root.iter("FileContentDescriptor"):
        for el in list(fcd):
            if el.tag in ("FilType", "SF"):
                fcd.remove(el)
    return not xml.schema_problems(root, official)

