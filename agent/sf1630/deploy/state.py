"""The layout of an install directory, its deploy state file, and the release being deployed.

    <dir>/releases/<release>/sf1630        the executable (0755)
    <dir>/releases/<release>/agent.toml    the agent config (0600), municipalities/ and plugins/ beside it
    <dir>/releases/<release>/state -> ../../state     the journal and spool, kept across releases
    <dir>/releases/<release>/keys -> ../../secrets    keys and known_hosts, kept across releases
    <dir>/current -> releases/<release>    switched atomically (ln -s to a temporary name, mv -T)
    <dir>/state/                            0700; `state/...` paths in agent.toml land here
    <dir>/secrets/                          secret files (0700 folder, 0600 files), `keys/...` in agent.toml
    <dir>/deploy.json                       release order and the last deploys (`sf1630 deploy status`)
    <dir>/.deploy.lock/                     present while a deploy or rollback runs
"""

from __future__ import annotations

import getpass
import hashlib
import json
import re
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sf1630.errors import Sf1630Error

BINARY = "sf1630"
CONFIG = "agent.toml"  # the name `sf1630 init` writes and the agent looks for
SHARED = {"state": "state", "keys": "secrets"}  # link in each release -> folder of <dir>
HISTORY_KEEP = 50
RELEASE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,80}$")


@dataclass(frozen=True)
class Layout:
    """Remote paths of one install directory."""

    dir: str

    @property
    def releases(self) -> str:
        return f"{self.dir}/releases"

    @property
    def current(self) -> str:
        return f"{self.dir}/current"

    @property
    def state(self) -> str:
        return f"{self.dir}/deploy.json"

    @property
    def lock(self) -> str:
        return f"{self.dir}/.deploy.lock"

    @property
    def secrets(self) -> str:
        return f"{self.dir}/secrets"

    def shared(self, folder: str) -> str:
        return f"{self.dir}/{folder}"

    def release(self, name: str) -> str:
        if not RELEASE_NAME.match(name):
            raise Sf1630Error(f"refusing release name {name!r}: letters, digits and ._+- only")
        return f"{self.releases}/{name}"


@dataclass(frozen=True)
class Release:
    """The executable being deployed, as measured on this machine."""

    version: str
    binary: Path
    sha256: str
    size: int


def local_release(binary: Path) -> Release:
    """Read the version (``BINARY --version``) and SHA-256 of the executable to deploy."""
    binary = Path(binary)
    if not binary.is_file():
        raise Sf1630Error(f"{binary}: no executable there; build it with `bash build/build.sh` or pass --binary")
    try:
        out = subprocess.run([str(binary.resolve()), "--version"], capture_output=True, text=True, timeout=120)
    except OSError as exc:
        raise Sf1630Error(f"{binary}: cannot run it to read its version: {exc.strerror}") from None
    words = out.stdout.split()
    if out.returncode != 0 or len(words) < 2 or words[0] != "sf1630":
        raise Sf1630Error(f"{binary}: `--version` did not answer `sf1630 VERSION` (exit {out.returncode}: "
                          f"{(out.stdout + out.stderr).strip()[:200]})")
    digest = hashlib.sha256()
    with binary.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    version = words[1]
    if not RELEASE_NAME.match(version):
        raise Sf1630Error(f"{binary}: version {version!r} cannot name a release folder")
    return Release(version, binary, digest.hexdigest(), binary.stat().st_size)


@dataclass
class DeployState:
    """``deploy.json``: releases in deploy order (oldest first), those rolled away from, and history."""

    releases: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)  # rolled away from: never a rollback target

    @classmethod
    def parse(cls, text: str | None) -> "DeployState":
        if not text:
            return cls()
        try:
            data = json.loads(text)
        except ValueError:
            return cls()  # a damaged state file must not block a deploy; it is rewritten below
        return cls(list(data.get("releases", [])), list(data.get("history", [])), list(data.get("retired", [])))

    def dump(self) -> str:
        data = {"releases": self.releases, "retired": self.retired, "history": self.history[-HISTORY_KEEP:]}
        return json.dumps(data, indent=2) + "\n"

    def deployed(self, release: str) -> None:
        """Move ``release`` to the newest place."""
        self.releases = [r for r in self.releases if r != release] + [release]
        self.retired = [r for r in self.retired if r != release]

    def forget(self, release: str) -> None:
        self.releases = [r for r in self.releases if r != release]
        self.retired = [r for r in self.retired if r != release]

    def retire(self, release: str) -> None:
        """``release`` was rolled away from: prune it first and never roll back to it."""
        if release not in self.retired:
            self.retired.append(release)

    def prune_order(self, listing: list[str]) -> list[str]:
        """Releases on the host, first to go first: unknown ones, retired ones, then oldest deployed."""
        known = [r for r in self.releases if r in listing]
        return [r for r in listing if r not in known] + [r for r in known if r in self.retired] + \
            [r for r in known if r not in self.retired]

    def record(self, **entry: Any) -> None:
        """Append one history entry, stamped with the time and who ran it."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.history.append({"time": stamp, "by": f"{getpass.getuser()}@{socket.gethostname()}", **entry})

    def names(self) -> set[str]:
        """Every release name this file knows: kept, retired, or the target of a recorded change."""
        targets = {h.get("to") for h in self.history} | {h.get("from") for h in self.history}
        return {*self.releases, *self.retired, *(t for t in targets if isinstance(t, str))}

    @property
    def last(self) -> dict[str, Any] | None:
        return self.history[-1] if self.history else None


def next_release_name(version: str, taken: set[str]) -> str:
    """``version``, or ``<version>-N`` past every ``<version>``/``<version>-N`` in ``taken``.

    ``taken`` holds the folders on the host and the names deploy.json knows: a kept release is never
    overwritten, and a name in the history never comes back for another build (issue #25).
    """
    suffix = re.compile(re.escape(version) + r"-(\d+)")
    used = [1] if version in taken else []
    used += [int(m[1]) for name in taken if (m := suffix.fullmatch(name))]
    return f"{version}-{max(used) + 1}" if used else version


def release_of_link(target: str) -> str | None:
    """The release a ``current`` link points at (``releases/1.2.0`` -> ``1.2.0``), or None."""
    target = target.strip().rstrip("/")
    return target.rsplit("/", 1)[-1] if target else None
