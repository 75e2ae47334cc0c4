"""File names of SF1630: data files, triggers, receipts and metadata (PROTOCOL.md "File names").

A name that reaches a remote or local folder passes :func:`check_name` first. Decisions:

- ``..`` is refused anywhere in a name, not only as a path component: ``/`` and ``\\`` are
  refused anyway, so ``..`` can only ever be a component when joined by a careless caller, and a
  name like ``a..b.csv`` is not worth the doubt.
- Length: at most 255 characters (the platform's XSD counts characters) *and* at most 255 bytes
  of UTF-8 (file systems count bytes: Linux's NAME_MAX). ``æøå`` take two bytes each.
- Control characters (Unicode Cc), line/paragraph separators and bidirectional overrides (which
  make a name display differently from what it is) are refused. Other letters, æøå included, pass.
- A name ending in ``.trigger`` (in any letter case) is refused: the platform would take it for
  a trigger.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sf1630.errors import DocumentError

ROUTING = "ROUTING_V1_0_0"
INF_REF = "KommunalLedelseInformationOverfør_1"
MAX_NAME = 255
TRIGGER, RECEIPT, METADATA = ".trigger", ".sftpreceipt", ".metadata"
_STAMP = "%Y%m%d%H%M%S"
_DATA_NAME = re.compile(
    r"(?P<sender>[^_]+)_(?P<recipient>[^_]+)_(?P<authority_id>[^_]+)_(?P<period>[^_]+)_(?P<stamp>\d{14})\.csv")
_MONTH = re.compile(r"M(0[1-9]|1[0-2])")
_BIDI = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F))


def name_problem(name: object) -> str | None:
    """Why ``name`` is unsafe as a file name, or None when it is safe."""
    if not isinstance(name, str):
        return f"a name must be text, not {type(name).__name__}"
    if not name:
        return "the name is empty"
    for bad, what in (("/", "a slash '/'"), ("\\", "a backslash '\\'")):
        if bad in name:
            return f"it contains {what}; a name must not contain a folder path"
    if ".." in name:
        return "it contains '..' (refused anywhere in a name, as a guard against path traversal)"
    if name == ".":
        return "'.' names a folder, not a file"
    if not (name.isascii() and name.isprintable()):  # printable ASCII has none of them: no look per character
        for ch in name:
            if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in _BIDI:
                return f"it contains the control character U+{ord(ch):04X}"
    if len(name) > MAX_NAME:
        return f"it has {len(name)} characters; the limit is {MAX_NAME}"
    size = len(name.encode("utf-8"))
    if size > MAX_NAME:
        return f"it takes {size} bytes in UTF-8; file systems allow {MAX_NAME}"
    if name.lower().endswith(TRIGGER):
        return "it ends in '.trigger', which marks a trigger, not a data file"
    return None


def check_name(name: str, origin: str = "") -> str:
    """Return ``name`` when it is a safe file name; raise DocumentError saying why not."""
    problem = name_problem(name)
    if problem:
        shown = repr(name if not isinstance(name, str) or len(name) <= 80 else name[:77] + "...")
        raise DocumentError(f"unsafe file name {shown}: {problem}; choose another name", origin)
    return name


@dataclass(frozen=True)
class DataName:
    """The parts of ``<Sender>_<Recipient>_<authorityId>_<period>_<YYYYMMDDhhmmss>.csv``."""

    sender: str
    recipient: str
    authority_id: str
    period: str
    timestamp: datetime


def data_file_name(sender: str, recipient: str, authority_id: str, period: str, when: datetime) -> str:
    """Build a data file name, e.g. ``KY_LIS_11111111_M03_20180402134858.csv``.

    ``period`` is the period the extract covers (``M03`` = March, PROTOCOL.md rule 7).
    """
    parts = {"sender": sender, "recipient": recipient, "authority_id": authority_id, "period": period}
    for key, value in parts.items():
        if not value or "_" in value:
            raise DocumentError(f"{key} {value!r} must be non-empty and without '_' "
                                "('_' separates the parts of a data file name)")
    return check_name(f"{sender}_{recipient}_{authority_id}_{period}_{when.strftime(_STAMP)}.csv")


def parse_data_name(name: str) -> DataName | None:
    """The parts of a data file name, or None when it does not follow the pattern.

    A convenience only, never a gate: any safe name is a valid data file name (rule 7).
    """
    match = _DATA_NAME.fullmatch(name) if name_problem(name) is None else None
    if not match:
        return None
    try:
        stamp = datetime.strptime(match["stamp"], _STAMP)
    except ValueError:
        return None
    return DataName(match["sender"], match["recipient"], match["authority_id"], match["period"], stamp)


def full_period(period: str, stamp: datetime) -> str:
    """The period with its year: ``M03`` made on 2 April 2026 is ``2026-M03`` (rule 7).

    The year is the timestamp's, except that a month later than the timestamp's month was
    covered the year before (``M12`` sent in January 2027 is ``2026-M12``). Other period forms
    (a day, a quarter, a year) are returned as written.
    """
    if not _MONTH.fullmatch(period):
        return period
    year = stamp.year - 1 if int(period[1:]) > stamp.month else stamp.year
    return f"{year}-{period}"


def delivery_period(name: str) -> tuple[str, str] | None:
    """(authority id, period with its year) of a data file name; None outside the pattern (never a gate)."""
    parts = parse_data_name(name)
    return None if parts is None else (parts.authority_id, full_period(parts.period, parts.timestamp))


def _with_suffix(data: str, suffix: str) -> str:
    check_name(data)
    name = data + suffix
    if len(name) > MAX_NAME or len(name.encode("utf-8")) > MAX_NAME:
        raise DocumentError(f"data file name {data[:40]!r}... is too long to take the suffix {suffix!r} "
                            f"within {MAX_NAME} characters and bytes; shorten it")
    return name


def trigger_name(data: str) -> str:
    """``<data file>.trigger``, the recommended trigger name."""
    return _with_suffix(data, TRIGGER)


def receipt_name(data: str) -> str:
    """``<data file>.sftpreceipt``, the technical receipt's name in the sender's ``IN/``."""
    return _with_suffix(data, RECEIPT)


def metadata_name(data: str) -> str:
    """``<data file>.metadata``, the metadata file's name in a recipient's ``IN/``."""
    return _with_suffix(data, METADATA)


def data_name_from_trigger(trigger: str) -> str:
    """The trigger's name without ``.trigger`` (equals the data file's name when named as recommended)."""
    if not isinstance(trigger, str) or not trigger.endswith(TRIGGER) or trigger == TRIGGER:
        raise DocumentError(f"{trigger!r} is not a trigger name: it must end in '.trigger'")
    return trigger[: -len(TRIGGER)]
