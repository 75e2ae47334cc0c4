"""What a deploy and a rollback share on one host: the lock, the switch, restart, health, the way back.

After any failure past the switch the host goes back to the release it ran before, the service is
restarted on it, and the report says so (issue #10). The steps themselves are in ``steps.py``.
"""

from __future__ import annotations

import json
import time

from sf1630.deploy.inventory import Host
from sf1630.deploy.remote import Remote, q
from sf1630.deploy.report import FAILED, OK, ROLLED_BACK, HostReport, StepLog
from sf1630.deploy.state import BINARY, CONFIG, DeployState, Layout, release_of_link
from sf1630.errors import Sf1630Error

EXPECTED_PLATFORM = "Linux x86_64"  # what build/build.sh produces (issue #4)
SYSTEMD_WAIT = 10.0  # seconds a unit may take to become active after a restart


class DeployError(Sf1630Error):
    """A deploy step found something wrong on the host."""


def platform_script(path: str) -> str:
    """Shell that prints ``uname -sm`` and the free KiB of ``path`` (or its nearest existing parent)."""
    return (f"uname -sm; p={q(path)}; while [ ! -e \"$p\" ]; do p=$(dirname \"$p\"); done; "
            "df -Pk \"$p\" | tail -n 1")


def parse_platform(output: str) -> tuple[str, int]:
    """(``Linux x86_64``, free bytes) from the output of :func:`platform_script`."""
    lines = output.strip().splitlines()
    try:
        return lines[0].strip(), int(lines[-1].split()[3]) * 1024
    except (IndexError, ValueError):
        raise DeployError(f"cannot read the platform and free disk from: {output.strip()[:200]}") from None


class Change:
    """What deploy and rollback share: the lock, the switch, restart, health and the way back."""

    def __init__(self, host: Host, remote: Remote, log: StepLog):
        self.host, self.remote, self.log = host, remote, log
        self.report: HostReport = log.report
        self.layout = Layout(host.dir)
        self.state = DeployState()
        self.before: str | None = None
        self.target: str | None = None
        self.switched = False
        self.rollback_error = ""

    def read_current(self) -> str | None:
        return release_of_link(self.remote.readlink(self.layout.current) or "")

    def lock(self) -> str:
        lay = self.layout
        self.remote.makedirs(lay.releases)
        try:
            self.remote.sftp.mkdir(lay.lock, 0o700)  # atomic: only one deploy gets it
        except OSError:
            held = self.remote.read_text(f"{lay.lock}/owner") or "unknown"
            raise DeployError(f"another deploy holds {lay.lock} ({held.strip()}); if none is running, "
                              "remove that folder on the host and try again") from None
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.remote.write_text(f"{lay.lock}/owner", f"{self.report.action} since {stamp}\n")
        self.state = DeployState.parse(self.remote.read_text(lay.state))
        self.before = self.report.before = self.read_current()
        return f"{lay.lock}; running {self.before or 'nothing yet'}"

    def unlock(self) -> None:
        try:
            self.remote.sftp.remove(f"{self.layout.lock}/owner")
            self.remote.sftp.rmdir(self.layout.lock)
        except OSError:
            self.remote.run(f"rm -rf -- {q(self.layout.lock)}", check=False)

    def switch_to(self, release: str | None) -> str:
        """Point ``current`` at ``release`` atomically (or remove it when None)."""
        cur = self.layout.current
        if release is None:
            self.remote.run(f"rm -f -- {q(cur)}")
            return "removed current"
        tmp = f"{cur}.tmp-{int(time.time() * 1000)}"
        self.layout.release(release)  # validates the name
        self.remote.run(f"ln -s {q('releases/' + release)} {q(tmp)} && mv -T {q(tmp)} {q(cur)}")
        return f"current -> releases/{release}"

    def switch(self) -> str:
        note = self.switch_to(self.target)
        self.switched = True
        return note

    def restart(self) -> str:
        return self.restart_on(self.target)

    def restart_on(self, release: str | None) -> str:
        h = self.host
        if h.service == "none":
            return 'skipped: service = "none"'
        if h.service == "systemd":
            self.remote.run(self.remote.privileged(f"systemctl restart {q(h.unit)}"))
            return f"systemctl restart {h.unit}"
        env = f"SF1630_DIR={q(h.dir)} SF1630_RELEASE={q(release or '')}"
        self.remote.run(f"cd {q(h.dir)} && {env} sh -c {q(h.restart_command or '')}")
        return f"ran {h.restart_command}"

    def health(self) -> str:
        notes = [self.service_active()] if self.host.service == "systemd" else []
        cur = self.layout.current
        if self.host.files.config:
            res = self.remote.run(f"cd {q(cur)} && ./{BINARY} status --json --config {CONFIG}", check=False)
            if not res.ok:
                out = (res.stderr or res.stdout).strip().splitlines()
                raise DeployError(f"`sf1630 status --json` of {self.target} exited {res.exit_code}: "
                                  f"{out[-1] if out else 'no output'}")
            notes.append(_status_note(res.stdout))
        else:
            res = self.remote.run(f"{q(cur)}/{BINARY} --version")
            notes.append(f"answers {res.stdout.strip()} (no config to ask for status)")
        return "; ".join(notes)

    def service_active(self) -> str:
        deadline = time.monotonic() + SYSTEMD_WAIT
        while True:
            res = self.remote.run(self.remote.privileged(f"systemctl is-active {q(self.host.unit)}"), check=False)
            state = res.stdout.strip()
            if state == "active":
                return f"{self.host.unit} active"
            if time.monotonic() > deadline or state == "failed":
                raise DeployError(f"{self.host.unit} is {state or 'unknown'} after the restart; "
                                  f"see journalctl -u {self.host.unit}")
            time.sleep(0.5)

    def go_back(self) -> str:
        """After a failed switch: the previous release again, restarted (issue #10)."""
        self.switch_to(self.before)
        note = f"back on {self.before or 'nothing (first install)'}"
        if self.before is not None:
            note += f"; {self.restart_on(self.before)}"
        self.switched = False
        return note

    def record(self, result: str, error: str) -> None:
        self.state.record(action=self.report.action, **{"from": self.before, "to": self.target},
                          result=result, error=error, steps=[s.name for s in self.report.steps if s.ok])
        self.remote.write_text(self.layout.state, self.state.dump())

    def finish(self, work: "list[tuple[str, object]]") -> None:
        """Run ``work`` (named steps) under the lock; on failure go back, then record and unlock."""
        self.log.step("lock", self.lock)
        result, error = OK, ""
        try:
            for name, action in work:
                self.log.step(name, action)  # type: ignore[arg-type]
        except Exception as exc:
            error = str(exc)
            result = self.recover()
            if result == FAILED and self.switched:
                error += f"; the rollback failed too: {self.rollback_error}"
        finally:
            try:
                self.record(result, error)
            finally:
                self.unlock()
        self.report.result, self.report.error = result, error
        self.report.after = self.target if result == OK else self.before

    def recover(self) -> str:
        if not self.switched:
            self.cleanup()
            return FAILED
        try:
            self.log.step("rollback", self.go_back)
        except Exception as exc:
            self.rollback_error = str(exc)
            return FAILED
        self.cleanup()
        return ROLLED_BACK

    def cleanup(self) -> None:
        """Nothing to undo by default."""


def _status_note(stdout: str) -> str:
    try:
        data = json.loads(stdout)
    except ValueError:
        raise DeployError(f"`status --json` did not answer JSON: {stdout.strip()[:200]}") from None
    if isinstance(data, dict) and "journal" in data:
        journal = data["journal"]
        where = journal.get("path", journal) if isinstance(journal, dict) else journal
        return f"status answers; journal {where}"
    return "status answers"
