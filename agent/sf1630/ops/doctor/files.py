"""Checks of the agent's own local files: owner-only, and kept no longer than keep_days (issue #14).

The agent's files hold personal data: the spool (extracts waiting, deliveries waiting to load),
the quarantine, the journal and its backups, and what sinks write locally (the directory sink's
archive, a SQLite database). Every such file must be 0600 and every folder 0700. The spool keeps a
file only until it is delivered or loaded (keep_days 0); the directory sink keeps deliveries for
its ``keep_days`` (default 30) and removes older ones at its next load.
"""

from __future__ import annotations

import os
import shlex
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sf1630.journal import is_url
from sf1630.ops.doctor.findings import Finding, error, ok, warn
from sf1630.options import build_options

MAX_WALK = 20000  # entries per tree; a bigger archive is sampled, not walked whole
SHOW = 5  # paths named per finding
DAY = 86400.0


def agent_paths(cfg: Any, host: Any) -> list[tuple[str, Path]]:
    """(label, path) of every local file or folder of the agent's that exists."""
    paths = [("spool", Path(cfg.spool))]
    if not is_url(cfg.journal):  # a database journal has no local files
        journal = Path(cfg.journal)
        paths.append(("journal", journal))
        paths += [("journal backup", p) for p in sorted(journal.parent.glob(journal.name + "*")) if p != journal]
    paths += [(f"sink {label}", path) for label, path, _ in sink_paths(cfg, host)]
    return [(label, p) for label, p in paths if p.exists()]


def sink_paths(cfg: Any, host: Any) -> list[tuple[str, Path, Any]]:
    """Local paths in the receive sinks' options (directory folder, SQLite file), with the options."""
    out = []
    for m in cfg.municipalities:
        for sc in (m.receive.sinks if m.receive else ()):
            try:
                options = build_options(host.sink(sc.type).Options, dict(sc.options), str(sc.file or m.path),
                                        base=sc.base or m.path.parent)
            except Exception:  # reported by the config check
                continue
            for name, value in vars(options).items():
                if isinstance(value, Path):
                    out.append((f"{sc.type} {name} ({m.municipality.key})", value, options))
    return out


def check_modes(cfg: Any, host: Any) -> list[Finding]:
    """Files and folders of the agent's that group or others may read."""
    findings = []
    for label, root in agent_paths(cfg, host):
        loose = [p for p in _walk(root) if _loose(p)]
        if loose:
            shown = ", ".join(f"{p} ({stat.S_IMODE(p.lstat().st_mode):04o})" for p in loose[:SHOW])
            more = f" and {len(loose) - SHOW} more" if len(loose) > SHOW else ""
            findings.append(error(f"files {label}", f"{len(loose)} path(s) others can read: {shown}{more}",
                                  f"chmod -R go-rwx {shlex.quote(str(root))}"))
    if not findings:
        findings.append(ok("files", "the spool, journal and sink files are owner-only"))
    return findings


def check_keep_days(cfg: Any, host: Any, now: float | None = None) -> list[Finding]:
    """Files kept past their time: spool leftovers, quarantined loads, archives older than keep_days."""
    now = time.time() if now is None else now
    findings = []
    spool = Path(cfg.spool)
    limit = max(DAY, float(cfg.receipt_timeout))
    for part in ("out", "in"):
        old = [p for p in _files(spool / part) if now - p.stat().st_mtime > limit]
        if old:
            findings.append(warn("keep_days spool", f"{len(old)} file(s) in {spool / part} are older than "
                                 f"{limit / DAY:.0f} day(s), oldest {_age(old, now)}; the spool keeps a file only "
                                 "until it is delivered or loaded", "`sf1630 status` shows whether their transfers "
                                 "are still open; finish them with `sf1630 send` / `sf1630 receive`"))
    quarantined = list(_files(spool / "quarantine"))
    if quarantined:
        findings.append(warn("keep_days quarantine", f"{len(quarantined)} file(s) wait in quarantine, oldest "
                             f"{_age(quarantined, now)}", "fix the sink (see `sf1630 status`); each round retries "
                             "the load and removes the copy once loaded"))
    findings += _archives(cfg, host, now)
    return findings or [ok("keep_days", "nothing kept past its time")]


def _archives(cfg: Any, host: Any, now: float) -> list[Finding]:
    findings = []
    for label, path, options in sink_paths(cfg, host):
        keep = getattr(options, "keep_days", None)
        if not keep or not path.is_dir():
            continue
        # Layout of the directory sink: <folder>/<table>/<FileTransferUUID>/ per delivery.
        deliveries = [d for t in path.iterdir() if t.is_dir() and not t.name.startswith(".")
                      for d in t.iterdir() if d.is_dir()]
        old = [d for d in deliveries if now - d.stat().st_mtime > (keep + 1) * DAY]
        if old:
            findings.append(warn(f"keep_days {label}", f"{len(old)} archived deliveries in {path} are older than "
                                 f"keep_days = {keep}, oldest {_age(old, now)}", "they are removed at the next load; "
                                 f"to remove them now: find {shlex.quote(str(path))} -mindepth 2 -maxdepth 2 -type d "
                                 f"-mtime +{keep} -exec rm -r {{}} +"))
    return findings


def _walk(root: Path) -> Iterator[Path]:
    yield root
    if not root.is_dir() or root.is_symlink():
        return
    seen = 0
    for folder, dirs, names in os.walk(root):
        for name in [*dirs, *names]:
            seen += 1
            if seen > MAX_WALK:
                return
            yield Path(folder) / name


def _files(root: Path) -> Iterator[Path]:
    return (p for p in _walk(root) if p.is_file() and not p.name.endswith(".part"))


def _loose(path: Path) -> bool:
    mode = path.lstat().st_mode
    return not stat.S_ISLNK(mode) and bool(mode & (stat.S_IRWXG | stat.S_IRWXO))


def _age(paths: list[Path], now: float) -> str:
    return f"{(now - min(p.stat().st_mtime for p in paths)) / DAY:.0f} days"
