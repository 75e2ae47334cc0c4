"""A send's files on the server: temporary upload names, the data file a name belongs to, clean-up.

Each upload attempt writes under a temporary name of its own and renames it into place, so a late
request of an attempt that died cannot reach the next attempt's file (issue #5).
"""

from __future__ import annotations

import logging
import re
import secrets

from sf1630.errors import Sf1630Error
from sf1630.transport.sftp import RemoteFile, Session

log = logging.getLogger("sf1630.sender")  # the sender's own messages

_PART = re.compile(r"(\.[0-9a-f]{8})?\.part$")


def part_name(remote: str) -> str:
    """A temporary name of its own for one upload attempt of ``remote``: a late request of an attempt
    that died (killed, link lost) cannot reach this one's file (issue #5)."""
    return f"{remote}.{secrets.token_hex(4)}.part"


def data_name(name: str) -> str:
    """The data file a trigger, receipt or temporary upload belongs to."""
    name = _PART.sub("", name)
    for suffix in (".sftpreceipt", ".trigger"):
        name = name.removesuffix(suffix)
    return name


async def list_both(session: Session) -> list[tuple[str, RemoteFile]]:
    """Every entry of the account's OUT/ and IN/, as (folder, entry)."""
    return [(folder, f) for folder in ("OUT", "IN") for f in await session.listdir(folder)]


async def drop_parts(session: Session, parts: list[str]) -> None:
    """Remove the temporary files of earlier attempts (their connection died); the sweep does what fails."""
    try:
        for part in parts:
            await session.remove(part)
    except Sf1630Error as exc:
        log.info("could not remove %s now (the next sweep does): %s", ", ".join(parts), exc)
