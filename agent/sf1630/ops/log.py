"""Logging set-up: plain text for people, one JSON object per line for machines."""

from __future__ import annotations

import json
import logging
import sys
import time
import warnings

# Extra attributes that code may pass with `extra=` and that the JSON form carries as fields.
FIELDS = ("file", "uuid", "user", "account", "municipality", "source", "state", "code", "size", "rows")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


# Libraries whose own use of deprecated cryptography APIs says nothing about this program or its
# settings: asyncssh keeps DSA for old peers, paramiko (through fabric) TripleDES.
QUIET_DEPRECATIONS = r"(asyncssh|paramiko)(\..*)?$"


def quiet_dependency_warnings() -> None:
    """Drop the cryptography deprecation warnings raised inside asyncssh and paramiko.

    Must run before either is imported: they warn once, at import. Filtered by category and the
    module raising it, so every other warning still reaches the log (see ``setup_logging``).
    """
    try:  # late: cryptography is slow to load, and only the commands that connect need this
        from cryptography.utils import CryptographyDeprecationWarning
    except ImportError:  # pragma: no cover - asyncssh needs cryptography
        return
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning, module=QUIET_DEPRECATIONS)


def setup_logging(fmt: str = "text", level: str = "INFO") -> None:
    """One handler on stderr for every log line and Python warning, in ``fmt`` (text or json)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Warnings become log records (logger py.warnings), so a JSON log stays JSON line by line.
    logging.captureWarnings(True)
    # asyncssh logs every channel at INFO; keep it quiet unless asked.
    logging.getLogger("asyncssh").setLevel(max(logging.WARNING, root.level))
