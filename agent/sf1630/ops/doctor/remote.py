"""Checks against the platform: known_hosts lists its host key; each account logs in and lists IN/ and OUT/."""

from __future__ import annotations

import asyncio
import shlex
from typing import Any

from sf1630.errors import ConfigError, HostKeyError, RemoteRefused, Sf1630Error
from sf1630.ops.doctor.findings import Finding, error, ok, warn
from sf1630.ops.doctor.keyfiles import others_can_read
from sf1630.transport import knownhosts
from sf1630.transport.knownhosts import probe_fingerprint
from sf1630.transport.sftp import connect


def check_known_hosts(cfg: Any, probe: float | None = None) -> tuple[set[str], list[Finding]]:
    """Each environment an account uses: its known_hosts file exists and trusts the platform's host.

    With ``probe`` (seconds), a missing entry's message shows the key the server presents.
    """
    trusted: set[str] = set()
    findings: list[Finding] = []
    for name in sorted({a.environment for a in cfg.accounts.values()}):
        env = cfg.environments[name]
        topic = f"known_hosts {name}"
        fix = (f"compare the fingerprint with the one the platform publishes, then run: "
               f"{knownhosts.trust_command(env.host, env.port, env.known_hosts)}")
        if not env.known_hosts.is_file():
            findings.append(error(topic, f"{env.known_hosts} does not exist{_presented(env, probe)}", fix))
            continue
        keys = knownhosts.trusted_keys(env.known_hosts, env.host, env.port)
        if not keys:
            pattern = knownhosts.host_pattern(env.host, env.port)
            findings.append(error(topic, f"{env.known_hosts} has no entry for {pattern}{_presented(env, probe)}", fix))
            continue
        trusted.add(name)
        prints = ", ".join(knownhosts.fingerprint(k) for k in keys)
        findings.append(ok(topic, f"{env.known_hosts} trusts {knownhosts.host_pattern(env.host, env.port)}: {prints}"))
    return trusted, findings


def _presented(env: Any, probe: float | None) -> str:
    if probe is None:
        return ""
    fp = asyncio.run(probe_fingerprint(env.host, env.port, probe))
    return f"; the server presents {fp}" if fp else f"; no SSH server answers on {env.host}:{env.port}"


def check_connections(cfg: Any, trusted: set[str], timeout: float) -> list[Finding]:
    """Log in as each account whose environment is trusted, and list IN/ and OUT/ (``timeout`` each step)."""
    accounts = [(n, a) for n, a in sorted(cfg.accounts.items()) if a.environment in trusted]
    if not accounts:
        return []

    async def all_of() -> list[list[Finding]]:
        return await asyncio.gather(*(_one(cfg, name, account, timeout) for name, account in accounts))

    return [f for found in asyncio.run(all_of()) for f in found]


async def _one(cfg: Any, name: str, account: Any, timeout: float) -> list[Finding]:
    topic = f"connect {name}"
    endpoint = account.endpoint(cfg)
    where = f"{account.user}@{endpoint.host}:{endpoint.port}"
    try:
        async with asyncio.timeout(timeout * 3):
            session = await connect(endpoint, account.credentials(), timeout=timeout)
            try:
                listed = {folder: await session.listdir(folder) for folder in ("IN", "OUT")}
                used = session.key_used
            finally:
                await session.close()
    except HostKeyError as exc:
        return [error(topic, str(exc))]
    except RemoteRefused as exc:
        return [error(topic, str(exc), "register the public key (.pub) with the platform, or list the right key")]
    except ConfigError as exc:  # a key the agent will not use: no connection was tried
        loose = [p for p in account.keys if p.is_file() and others_can_read(p)]
        fix = (" && ".join(f"chmod 600 {shlex.quote(str(p))}" for p in loose) if loose
               else "check the key files and passphrase_env / passphrase_file of the account")
        return [error(topic, f"not tried: {exc}", fix)]
    except (Sf1630Error, TimeoutError, OSError) as exc:
        return [error(topic, f"{where}: {exc or type(exc).__name__}",
                      "check the host and port of the environment, the network path and the firewall")]
    counts = ", ".join(f"{folder}/ {len(files)} file(s)" for folder, files in listed.items())
    found = [ok(topic, f"{where} with key {used.name}: {counts}")]
    if used != account.keys[0]:
        refused = ", ".join(p.name for p in account.keys[: account.keys.index(used)])
        found.append(warn(topic, f"the platform refused {refused} and took {used.name}",
                          f"finish the rollover: make {used.name} the first (or only) key of account {name}"))
    return found
