"""Streams that would name their data files alike are refused (issue #20).

A data file is named ``<source>_<recipient_code>_<authority_id>_<period>_<time>.csv``. Two streams
of the same source, authority and recipient code cover the same period, so they would make the same
name in the same second, and one would overwrite or block the other on the platform. Both places are
named, so the fix (another ``recipient_code``) is obvious.
"""

from __future__ import annotations

from typing import Any

from sf1630.config.model import MunicipalityConfig, SendConfig


def check_collisions(loaded: list[tuple[Any, MunicipalityConfig]]) -> None:
    """Report, into the second stream's file, every pair of streams that would share file names."""
    first: dict[tuple[str, str, str], tuple[MunicipalityConfig, SendConfig]] = {}
    for f, m in loaded:
        for send in m.sends:
            key = (send.source, m.municipality.authority_id, send.recipient_code)
            if key not in first:
                first[key] = (m, send)
                continue
            other_m, other = first[key]
            # within one municipality the message is the same for each: an inherited pair is reported once
            whose = "" if other_m is m else (f" of municipality {other_m.municipality.key!r} (the same "
                                             f"authority_id {key[1]!r})")
            f.report(("send", send.index), None,
                     f"this stream and the one at {other.file}:{other.line}{whose} would give their data files "
                     f"the same names ({send.source.upper()}_{send.recipient_code}_<authority_id>_<period>_<time>"
                     f".csv): the same source {send.source!r} and recipient_code {send.recipient_code!r}; "
                     "give one of them its own recipient_code, e.g. \"LIS02\"")
