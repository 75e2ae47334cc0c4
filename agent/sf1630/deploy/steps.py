"""The remote steps of `sf1630 deploy` and `sf1630 deploy rollback` on one host (issue #10).

Deploy, in order, each logged: platform (OS, architecture, free disk), lock, upload binary (SHA-256
checked on the host), upload files (config, municipality files, plugins; secret files 0600), config
check, doctor, switch `current`, restart, health, prune old releases.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from sf1630.deploy.change import EXPECTED_PLATFORM, Change, DeployError, parse_platform, platform_script
from sf1630.deploy.inventory import Host
from sf1630.deploy.remote import Remote, q
from sf1630.deploy.report import OK, StepLog
from sf1630.deploy.state import BINARY, CONFIG, SHARED, Release, next_release_name

SKIPPED_FILES = ("__pycache__",)


def plugin_files(folder: Path) -> list[Path]:
    """Files of a plugin folder worth shipping (no caches, no hidden files), relative to it."""
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not any(p.startswith(".") or p in SKIPPED_FILES for p in rel.parts) \
                and path.suffix != ".pyc":
            found.append(rel)
    return found


class Deploy(Change):
    """Install or upgrade one host to ``release``."""

    def __init__(self, host: Host, remote: Remote, log: StepLog, release: Release):
        super().__init__(host, remote, log)
        self.release = release
        self.created: str | None = None  # the release folder this deploy made, removed if it fails

    def run(self) -> None:
        self.log.step("platform", self.platform)
        self.finish([
            ("upload binary", self.upload_binary), ("upload files", self.upload_files),
            ("config check", self.config_check), ("doctor", self.doctor), ("switch", self.switch),
            ("restart", self.restart), ("health", self.health), ("prune", self.prune),
        ])

    def platform(self) -> str:
        res = self.remote.run(platform_script(self.host.dir))
        system, free = parse_platform(res.stdout)
        if system != EXPECTED_PLATFORM:
            raise DeployError(f"the host runs {system}; the executable is built for {EXPECTED_PLATFORM}")
        files = sum(p.stat().st_size for p in self.local_files())
        need = self.release.size + files + self.host.min_free_mb * (1 << 20)
        if free < need:
            raise DeployError(f"{_mib(free)} free under {self.host.dir}; the release needs {_mib(need)} "
                              f"(min_free_mb = {self.host.min_free_mb} included); free some space")
        return f"{system}, {_mib(free)} free"

    def local_files(self) -> list[Path]:
        f = self.host.files
        plugins = [f.plugins / p for p in plugin_files(f.plugins)] if f.plugins else []
        return [*([f.config] if f.config else []), *f.municipalities, *plugins, *f.secrets]

    def release_name(self) -> str:
        """A name no folder on the host has and deploy.json never used: ``<version>``, else ``<version>-N``."""
        taken = set(self.remote.listdir(self.layout.releases)) | self.state.names()
        if self.before:
            taken.add(self.before)
        return next_release_name(self.release.version, taken)

    def upload_binary(self) -> str:
        self.target = self.release_name()
        folder = self.layout.release(self.target)
        try:  # never into an existing folder: it may be a release kept for rollback
            self.remote.sftp.mkdir(folder, 0o755)
        except OSError as exc:
            raise DeployError(f"cannot create {folder} on the host ({exc}); nothing was removed. Check that "
                              f"{self.host.user} may write there and that no other tool makes release "
                              "folders") from None
        self.created = self.target
        remote = f"{folder}/{BINARY}"
        self.remote.put(self.release.binary, remote, 0o755)
        res = self.remote.run(f"sha256sum {q(remote)}")
        got = res.stdout.split()[0] if res.stdout.split() else ""
        if got != self.release.sha256:
            raise DeployError(f"SHA-256 on the host is {got or 'missing'}, expected {self.release.sha256}; "
                              "the upload was damaged")
        return f"{self.target}: {_mib(self.release.size)}, sha256 {got[:12]} verified"

    def upload_files(self) -> str:
        f, folder = self.host.files, self.layout.release(self.target or "")
        plugins = plugin_files(f.plugins) if f.plugins else []
        dirs = [folder + "/municipalities"] if f.municipalities else []
        dirs += [posixpath.normpath(f"{folder}/plugins/{p.parent.as_posix()}") for p in plugins]
        dirs = sorted(set(dirs))
        self.remote.run(self.prepare_folders(folder, dirs))
        # Config and municipality files may hold database URLs: owner-only (issue #10).
        uploads = [(f.config, f"{folder}/{CONFIG}", 0o600)] if f.config else []
        uploads += [(p, f"{folder}/municipalities/{p.name}", 0o600) for p in f.municipalities]
        uploads += [(f.plugins / p, f"{folder}/plugins/{p.as_posix()}", 0o644) for p in plugins if f.plugins]
        uploads += [(p, f"{self.layout.secrets}/{p.name}", 0o600) for p in f.secrets]
        for local, remote, mode in uploads:
            self.remote.put(local, remote, mode)
        if self.host.owner:
            owner, lay = q(self.host.owner), self.layout
            self.remote.run(self.remote.privileged(
                f"chown -R {owner} {q(folder)} {q(lay.secrets)} && chown {owner} {q(lay.shared('state'))}"))
        done = [("config", 1 if f.config else 0), ("municipality files", len(f.municipalities)),
                ("plugin files", len(plugins)), ("secret files", len(f.secrets))]
        return ", ".join(f"{n} {what}" for what, n in done if n) or "no files in the inventory"

    def prepare_folders(self, folder: str, dirs: list[str]) -> str:
        """Shell that makes the release's folders, the shared ones (0700) and the release's links to them.

        `state/...` and `keys/...` paths of an agent.toml written by `sf1630 init` then reach folders
        that every release shares, so an upgrade keeps the journal, spool and keys (issue #4, "Upgrades").
        """
        shared = [self.layout.shared(target) for target in SHARED.values()]
        make = " ".join(q(d) for d in [*dirs, *shared])
        links = " && ".join(f"ln -sfn {q('../../' + target)} {q(folder + '/' + name)}"
                            for name, target in SHARED.items())
        return f"mkdir -p {make} && chmod 700 {' '.join(map(q, shared))} && {links}"

    def run_new(self, args: str) -> tuple[int, str, str]:
        """Run the new release's binary in its folder; (exit code, stdout, stdout and stderr)."""
        folder = self.layout.release(self.target or "")
        res = self.remote.run(f"cd {q(folder)} && ./{BINARY} {args}", check=False)
        return res.exit_code, res.stdout.strip(), (res.stdout + res.stderr).strip()

    def config_check(self) -> str:
        if not self.host.files.config:
            return "skipped: no config in the inventory"
        code, out, both = self.run_new(f"config check --config {CONFIG}")
        if code != 0:
            raise DeployError(f"the new release's `config check` failed (exit {code}): {_tail(both)}")
        return _tail(out) or "config ok"  # its answer, not a library's warning on stderr

    def doctor(self) -> str:
        if self.host.doctor == "off":
            return 'skipped: doctor = "off"'
        args = f"doctor --config {CONFIG}" if self.host.files.config else "doctor"
        code, out, both = self.run_new(args + (" --offline" if self.host.doctor == "offline" else ""))
        if code != 0 and "invalid choice: 'doctor'" in both:
            return "skipped: this release has no doctor command"
        if code != 0:
            raise DeployError(f"the new release's `doctor` found problems (exit {code}): {_errors(both)}")
        return _tail(out) or "doctor ok"

    def prune(self) -> str:
        """Keep ``keep_releases`` releases; never the running one or the one before it."""
        self.state.deployed(self.target or "")
        order = self.state.prune_order(self.remote.listdir(self.layout.releases))
        keep = {self.target, self.before}
        spare = max(0, len(order) - self.host.keep_releases)
        removed = [name for name in order if name not in keep][:spare]
        if removed:
            self.remote.run("rm -rf -- " + " ".join(q(self.layout.release(n)) for n in removed))
        for name in removed:
            self.state.forget(name)
        self.state.releases = [r for r in self.state.releases if r in order]
        self.created = None  # the release is in place now; a later failure keeps it
        n = len(order) - len(removed)
        kept = f"{n} release{'' if n == 1 else 's'} kept"
        return f"removed {', '.join(removed)}; {kept}" if removed else kept

    def cleanup(self) -> None:
        if self.created and self.created != self.before:
            self.remote.run(f"rm -rf -- {q(self.layout.release(self.created))}", check=False)
            self.state.forget(self.created)


class Rollback(Change):
    """Go back one release on one host."""

    def run(self) -> None:
        self.finish([("choose", self.choose), ("switch", self.switch), ("restart", self.restart),
                     ("health", self.health)])

    def choose(self) -> str:
        listing = set(self.remote.listdir(self.layout.releases))
        order = [r for r in self.state.releases if r in listing]
        earlier = order[: order.index(self.before)] if self.before in order else order
        earlier = [r for r in earlier if r != self.before and r not in self.state.retired]
        if not earlier:
            raise DeployError(f"no release before {self.before or 'nothing'} is kept on the host "
                              f"(releases: {', '.join(order) or 'none'})")
        self.target = earlier[-1]
        return f"{self.before} -> {self.target}"

    def record(self, result: str, error: str) -> None:
        if result == OK and self.before:
            self.state.retire(self.before)  # a second rollback goes further back, not forth
        super().record(result, error)


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n < (1 << 30) else f"{n / (1 << 30):.1f} GiB"


def _errors(text: str) -> str:
    """The ERROR lines of doctor's report (with the fix line under each), else its last line."""
    lines = text.strip().splitlines()
    found = [" ".join(ln.split()) for i, ln in enumerate(lines)
             if ln.startswith("ERROR") or (i and lines[i - 1].startswith("ERROR") and "fix:" in ln)]
    return " | ".join(found)[:600] if found else _tail(text)


def _tail(text: str, lines: int = 1) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])[:300]
