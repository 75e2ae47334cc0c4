"""`sf1630 validate FILE...`: say which SF1630 document each file is and whether the contract takes it.

The verdict is KOMBIT's contract's (docs/PROTOCOL.md, "The documents"), with the one known
deviation of rule 5 noted. Where the contract refuses a document the agent would still read (the
receiver is liberal about what the platform sends), both are said.
"""

from __future__ import annotations

# Late imports inside the functions: every command module loads when `sf1630` starts (see main.py).

import argparse
from pathlib import Path
from typing import Any

DEVIATION_NOTE = ("note: <FilType>/<SF> in FileContentDescriptor is the one known deviation from "
                  "KOMBIT's 2023 XSD (docs/PROTOCOL.md rule 5): the seed requires it, that XSD refuses it")
STILL_READ = {"receipt": "; the agent would still read it",
              "metadata": "; the agent would still read it",
              "trigger": "; only a simulator with lenient_triggers = true would take it"}


_SHIPPED = Path("(shipped)")


def register(subparsers: Any) -> None:
    """Add the `validate` command."""
    parser = subparsers.add_parser(
        "validate", help="check trigger, receipt and metadata files as KOMBIT's contract does",
        description="Say which SF1630 document each FILE is (trigger, technical receipt, metadata) "
                    "and whether KOMBIT's SFTP contract accepts it as written. Exit 1 when any file "
                    "has a problem.")
    parser.add_argument("files", nargs="+", metavar="FILE", type=Path)
    parser.add_argument("--xsd", metavar="DIR", type=Path, nargs="?", const=_SHIPPED,
                        help="also validate against KOMBIT's own XSD: the copy shipped with sf1630, or "
                             "the folder DIR holding SFTPTypes.xsd")
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
    """The lines to print for one file, and whether the contract (rule 5 aside) and the agent take it."""
    from sf1630.documents import contract, xml
    from sf1630.errors import DocumentError

    try:
        with path.open("rb") as handle:
            data = handle.read(xml.MAX_BYTES + 1)
    except OSError as exc:
        return [f"{path}: cannot read: {exc.strerror or exc}"], False
    origin = str(path)
    try:
        root = xml.parse_xml(data, origin)
        kind, problems = contract.check(root, origin)
    except DocumentError as exc:   # not XML, a DOCTYPE, too big, not an SF1630 root
        return [str(exc)], False
    if problems:
        return _refused(data, kind, problems, origin), False
    try:
        doc = _read(kind, root, origin)
    except DocumentError as exc:   # beyond the schema: an unsafe name, routing info that does not fit
        return [f"{path}: {xml.KINDS[kind]}: valid per the contract, but refused: {exc.reason}", str(exc)], False
    lines = [f"{path}: {describe(doc)}: valid"]
    if getattr(doc, "file_type", ()) and doc.file_type[0][0] == "FilType":
        lines.append(f"{path}: {DEVIATION_NOTE}")
    if official is None:
        return lines, True
    verdict, ok = _official_verdict(data, official, path)
    return lines + verdict, ok


def _refused(data: bytes, kind: str, problems: list[Any], origin: str) -> list[str]:
    """The contract's refusal, and whether the liberal reader would still take the document."""
    from sf1630.documents import contract, xml
    from sf1630.errors import DocumentError

    try:
        lenient_kind, root = contract.load(data, origin, lenient=True)
        _read(lenient_kind, root, origin)
        still = STILL_READ[lenient_kind]
    except DocumentError:
        still = ""
    first = problems[0]
    named = f"<{first.element}>: " if first.element and f"{first.element}>" not in first.reason else ""
    summary = named + first.reason + (f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else "")
    return [f"{origin}: {xml.KINDS[kind]}: not valid per the contract: {summary}{still}"] + [str(p) for p in problems]


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


def _load_official(folder: Path) -> Any:
    from lxml import etree

    from sf1630.documents.xml import make_parser
    from sf1630.errors import Sf1630Error

    from sf1630.documents.contract import kombit_xsd_path

    main = Path(kombit_xsd_path()) if folder == _SHIPPED else folder / "SFTPTypes.xsd"
    try:
        return etree.XMLSchema(etree.parse(str(main), make_parser()))
    except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
        raise Sf1630Error(f"{main}: cannot load KOMBIT's XSD: {exc}; pass the folder that holds "
                          "SFTPTypes.xsd and the files it includes") from None


def _official_verdict(data: bytes, official: Any, path: Path) -> tuple[list[str], bool]:
    """KOMBIT's verdict on the file as written; the rule-5 deviation alone is not a problem."""
    from sf1630.documents import xml

    root = xml.parse_xml(data, str(path))
    problems = xml.schema_problems(root, official, str(path))
    if not problems:
        return [f"{path}: KOMBIT XSD: valid"], True
    if _deviations_only(root, official):
        return [f"{path}: KOMBIT XSD: refused, for the known deviation noted above only"], True
    return [f"{path}: KOMBIT XSD: invalid"] + [f"{p} (KOMBIT XSD)" for p in problems], False


def _deviations_only(root: Any, official: Any) -> bool:
    """Whether the document passes KOMBIT's XSD once the rule-5 file type goes."""
    from sf1630.documents import xml

    for fcd in root.iter("FileContentDescriptor"):
        for el in list(fcd):
            if el.tag in ("FilType", "SF"):
                fcd.remove(el)
    return not xml.schema_problems(root, official)

