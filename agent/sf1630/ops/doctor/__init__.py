"""``sf1630 doctor``: check an installation and say what to fix (issues #4 and #14).

Each check returns :class:`Finding` records: ``ok``, ``warn`` or ``error``, a topic, what was
found and, when something is wrong, the command or change that fixes it. :func:`diagnose` runs
them in order: config, alerts, keys, known_hosts, connections, the data ends (sinks and source
adapters), journal, the agent's own files. Nothing here changes anything: the journal is only read,
never created or migrated; a sink's write is tried in a transaction that is rolled back. Only when
asked (``--test-alert``) does it send something: one test alert per alert channel.
"""

from __future__ import annotations

from pathlib import Path

from sf1630.ops.doctor import data, files, keyfiles, remote, setup
from sf1630.ops.doctor.findings import Finding, Level, as_dict, error, ok, summary, warn

__all__ = ["Finding", "Level", "as_dict", "diagnose", "error", "ok", "summary", "warn"]


def diagnose(path: Path, env: str | None = None, *, connect: bool = True, timeout: float = 10.0,
             now: float | None = None, test_alert: bool = False) -> list[Finding]:
    """Every finding for the config at ``path``; stops after the config check when it cannot load.

    ``test_alert`` sends one test alert through each configured alert channel.
    """
    findings, cfg, host = setup.check_config(path, env)
    if cfg is None:
        return findings
    findings += setup.check_plugins(cfg, host, test_alert)
    findings += keyfiles.check_accounts(cfg, now=now)
    trusted, found = remote.check_known_hosts(cfg, timeout if connect else None)
    findings += found
    if connect:
        findings += remote.check_connections(cfg, trusted, timeout)
    findings += data.check_sinks(cfg, host, timeout)
    findings += data.check_sources(cfg, host)
    findings += setup.check_journal(cfg)
    findings += files.check_modes(cfg, host)
    findings += files.check_keep_days(cfg, host, now=now)
    return findings
