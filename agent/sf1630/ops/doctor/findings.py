"""What a check of ``sf1630 doctor`` returns: findings at level ok, warn or error, with a fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Level = Literal["ok", "warn", "error"]


@dataclass(frozen=True)
class Finding:
    """One result of a check."""

    level: Level
    topic: str
    message: str
    fix: str = ""


def ok(topic: str, message: str) -> Finding:
    return Finding("ok", topic, message)


def warn(topic: str, message: str, fix: str = "") -> Finding:
    return Finding("warn", topic, message, fix)


def error(topic: str, message: str, fix: str = "") -> Finding:
    return Finding("error", topic, message, fix)


def summary(findings: list[Finding]) -> tuple[int, int]:
    """(errors, warnings)."""
    return (sum(f.level == "error" for f in findings), sum(f.level == "warn" for f in findings))


def as_dict(f: Finding) -> dict[str, Any]:
    """A finding as JSON (``sf1630 doctor --json``)."""
    return {"level": f.level, "topic": f.topic, "message": f.message, "fix": f.fix}
