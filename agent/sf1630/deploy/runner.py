"""Runs a deploy, dry run, rollback or status on many hosts in parallel, with a bound (issue #10).

One host's failure never stops the others: each host gets its own connection and its own report.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sf1630.deploy.change import parse_platform, platform_script
from sf1630.deploy.inventory import Host
from sf1630.deploy.remote import Remote, q
from sf1630.deploy.report import DRY_RUN, FAILED, OK, UNREACHABLE, HostReport, StepLog
from sf1630.deploy.state import BINARY, CONFIG, DeployState, Layout, Release, release_of_link
from sf1630.deploy.steps import Deploy, Rollback, plugin_files
from sf1630.errors import HostKeyError, TransportError

log = logging.getLogger("sf1630.deploy")
HOST_KEY_REFUSED = "host key refused"

Body = Callable[[Host, Remote, StepLog], None]


def run_hosts(hosts: list[Host], action: str, body: Body, parallel: int) -> list[HostReport]:
    """Run ``body`` on every host, at most ``parallel`` at once; reports in inventory order."""
    workers = max(1, min(parallel, len(hosts)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="deploy") as pool:
        futures = [pool.submit(_on_host, host, action, body) for host in hosts]
        return [f.result() for f in futures]


def _on_host(host: Host, action: str, body: Body) -> HostReport:
    report = HostReport(host.name, action)
    steps = StepLog(report, log.info)
    started = time.monotonic()
    remote = Remote(host)
    try:
        steps.step("connect", lambda: _connect(remote))
        body(host, remote, steps)
    except HostKeyError as exc:
        report.result, report.error = HOST_KEY_REFUSED, str(exc)
    except TransportError as exc:
        report.result, report.error = (UNREACHABLE if not remote.connected else FAILED), str(exc)
    except Exception as exc:  # one host's trouble is reported, never stops the others
        report.result, report.error = report.result or FAILED, report.error or str(exc)
    finally:
        remote.close()
        report.seconds = round(time.monotonic() - started, 2)
    return report


def _connect(remote: Remote) -> str:
    remote.open()
    h = remote.host
    return f"{h.user}@{h.address}:{h.port}, host key matches {h.known_hosts.name}"


def deploy(hosts: list[Host], release: Release, parallel: int) -> list[HostReport]:
    """Install or upgrade every host to ``release``."""
    return run_hosts(hosts, "deploy", lambda h, r, s: Deploy(h, r, s, release).run(), parallel)


def rollback(hosts: list[Host], parallel: int) -> list[HostReport]:
    """Go back one release on every host."""
    return run_hosts(hosts, "rollback", lambda h, r, s: Rollback(h, r, s).run(), parallel)


def dry_run(hosts: list[Host], release: Release, parallel: int) -> list[HostReport]:
    """What each host would get; reads the host, changes nothing."""
    return run_hosts(hosts, "dry run", lambda h, r, s: _plan(h, r, s, release), parallel)


def status(hosts: list[Host], parallel: int) -> list[HostReport]:
    """Each host's running release and version, service state, releases and last deploy."""
    return run_hosts(hosts, "status", _status, parallel)


def _plan(host: Host, remote: Remote, steps: StepLog, release: Release) -> None:
    plan = Deploy(host, remote, steps, release)
    report = steps.report
    plan.before = report.before = plan.read_current()
    plan.state = DeployState.parse(remote.read_text(Layout(host.dir).state))  # names it must not reuse
    steps.step("platform", plan.platform)
    name = plan.release_name()
    report.after, report.result = name, DRY_RUN
    lay = Layout(host.dir)
    f = host.files
    would = [f"upload {release.binary.name} {release.version} ({release.size} bytes, sha256 "
             f"{release.sha256[:12]}) to {lay.release(name)}/{BINARY}"]
    if f.config:
        would.append(f"upload {f.config} to {lay.release(name)}/{CONFIG} (0600)")
    would += [f"upload {p} to {lay.release(name)}/municipalities/{p.name} (0600)" for p in f.municipalities]
    if f.plugins:
        would.append(f"upload {len(plugin_files(f.plugins))} plugin files from {f.plugins} to "
                     f"{lay.release(name)}/plugins/")
    would += [f"upload {p} to {lay.secrets}/{p.name} (0600)" for p in f.secrets]
    would.append(f"run config check and doctor of {name}, then switch {lay.current} from "
                 f"{plan.before or 'nothing'} to releases/{name}")
    would.append({"systemd": f"systemctl restart {host.unit}", "none": "restart nothing (service = none)",
                  "command": f"run {host.restart_command}"}[host.service])
    would.append(f"check health, keep {host.keep_releases} releases")
    report.details["would"] = would


def _status(host: Host, remote: Remote, steps: StepLog) -> None:
    report, lay = steps.report, Layout(host.dir)

    def look() -> str:
        report.before = report.after = release_of_link(remote.readlink(lay.current) or "")
        version = remote.run(f"{q(lay.current)}/{BINARY} --version", check=False)
        state = DeployState.parse(remote.read_text(lay.state))
        listing = remote.listdir(lay.releases)
        report.details.update(
            release=report.after, version=version.stdout.strip().removeprefix("sf1630 ") if version.ok else None,
            service=_service_state(host, remote), last=state.last,
            releases=[r for r in state.releases if r in listing] + [r for r in listing if r not in state.releases])
        system, free = parse_platform(remote.run(platform_script(host.dir)).stdout)
        report.details.update(platform=system, free_bytes=free)
        if not report.after:
            return "running nothing"
        return f"running release {report.after} (sf1630 {report.details['version'] or 'does not answer --version'})"

    steps.step("status", look)
    report.result = OK


def _service_state(host: Host, remote: Remote) -> str:
    if host.service != "systemd":
        return host.service
    res = remote.run(remote.privileged(f"systemctl is-active {q(host.unit)}"), check=False)
    return f"{host.unit} {res.stdout.strip() or 'unknown'}"
