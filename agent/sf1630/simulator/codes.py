"""Stable error codes of the simulator's technical receipts.

The real platform does not publish its codes (docs/PROTOCOL.md, "Decisions"), so the
simulator uses its own, one per failure. They never change meaning; new failures get new numbers.
The agent treats any ErrorMessage as a failed delivery, whatever its code. docs/SIMULATOR.md lists them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    """One receipt error: its number and the short text that goes into ErrorCodeDescription."""

    number: int
    name: str
    description: str


MALFORMED_XML = Code(100, "MALFORMED_XML", "The trigger is not well-formed XML")
SCHEMA_INVALID = Code(101, "SCHEMA_INVALID", "The trigger does not follow the contract's trigger schema")
FORBIDDEN_XML = Code(102, "FORBIDDEN_XML", "The trigger declares a DTD or entities, which are not allowed")
BAD_FILE_NAME = Code(103, "BAD_FILE_NAME", "FileName is not a safe file name")
DATA_MISSING = Code(200, "DATA_MISSING", "The data file named in the trigger is not in OUT/")
SIZE_MISMATCH = Code(201, "SIZE_MISMATCH", "The data file's size differs from SizeInBytes")
DATA_LOCKED = Code(202, "DATA_LOCKED", "The data file is being processed for another trigger")
SENDER_MISMATCH = Code(300, "SENDER_MISMATCH", "Sender is not the SFTP user that uploaded the trigger")
UNKNOWN_RECIPIENT = Code(400, "UNKNOWN_RECIPIENT", "A recipient is not a known SFTP user")
NO_ROUTE = Code(401, "NO_ROUTE", "No route matches the dynamic routing information")
ROUTING_INFO_MISSING = Code(402, "ROUTING_INFO_MISSING",
                            "Recipients is ROUTING_V1_0_0 but SFTPDynamicRoutingInfo is missing")
INTERNAL = Code(500, "INTERNAL", "The platform failed to process the trigger")

ALL: tuple[Code, ...] = (
    MALFORMED_XML, SCHEMA_INVALID, FORBIDDEN_XML, BAD_FILE_NAME, DATA_MISSING, SIZE_MISMATCH, DATA_LOCKED,
    SENDER_MISMATCH, UNKNOWN_RECIPIENT, NO_ROUTE, ROUTING_INFO_MISSING, INTERNAL,
)
BY_NUMBER: dict[int, Code] = {code.number: code for code in ALL}


def table_markdown() -> str:
    """The code table as Markdown, for docs/SIMULATOR.md (a test keeps the two in step)."""
    lines = ["| code | name | meaning |", "|---|---|---|"]
    lines += [f"| {c.number} | `{c.name}` | {c.description} |" for c in ALL]
    return "\n".join(lines)
