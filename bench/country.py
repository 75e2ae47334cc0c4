"""conf/country made runnable here for part 3: a copy cut to the municipalities, LIS systems and sources
of a run, with keys, the simulator on a given port and synthetic extracts (the example reads a
database) loaded into SQLite or a folder (the example: PostgreSQL). Everything else is the example's.
"""

from __future__ import annotations

import os
import shutil
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import tomli_w

COUNTRY = Path(__file__).resolve().parent.parent / "conf" / "country"
LIS = ("LIS01", "LIS02", "LIS03")
SOURCES = ("dubu", "ky", "ksd", "aula", "kp")


@dataclass
class CountrySite:
    """A copy of conf/country under ``root``, for ``municipalities``, ``lis`` and ``sources``."""

    root: Path
    municipalities: list[str]
    lis: tuple[str, ...]
    sources: tuple[str, ...]
    port: int

    @property
    def vendor(self) -> Path:
        return self.root / "source-vendor" / "agent.toml"

    def lis_agent(self, lis: str) -> Path:
        return self.root / lis.lower() / "agent.toml"


def make_site(root: Path, municipalities: int, lis: int, sources: tuple[str, ...], port: int) -> CountrySite:
    """Copy the example, keep the first ``municipalities`` of its list, make every key."""
    from sf1630.simulator.sandbox import make_key

    shutil.copytree(COUNTRY, root)
    lines = (root / "municipalities.csv").read_text().splitlines(keepends=True)
    header = next(n for n, line in enumerate(lines) if line.startswith("key,"))
    kept = lines[header + 1: header + 1 + municipalities]
    (root / "municipalities.csv").write_text("".join(lines[: header + 1] + kept))
    site = CountrySite(root, [line.split(",")[0] for line in kept], LIS[:lis], sources, port)
    for vendor in ("source-vendor", "lis-vendor"):  # an override of a municipality left out would stand alone
        for path in (root / vendor / "municipalities").glob("*.toml"):
            if path.stem not in site.municipalities:
                path.unlink()
    users = [f"{s}_ed25519" for s in SOURCES] + [f"{m}_{x.lower()}_ed25519" for m in site.municipalities for x in LIS]
    for name in [*users, "platform_host_ed25519"]:
        make_key(root / "keys" / name)
    edit(root / "platform.toml", lambda d: d["server"].update(
        port=port, root=str(root / "platform"), host_key="keys/platform_host_ed25519", settle_seconds=0.0))
    return site


def trust(site: CountrySite) -> None:
    """known_hosts for the simulator started from the site's platform.toml."""
    import asyncssh

    from sf1630.transport.knownhosts import known_hosts_line

    key = asyncssh.read_private_key(str(site.root / "keys" / "platform_host_ed25519"))
    (site.root / "keys" / "known_hosts.local").write_text(known_hosts_line("127.0.0.1", site.port, key))


def write_vendor(site: CountrySite, concurrency: int, rows: int, export: Path | None = None) -> Path:
    """The source vendor's example, on the simulator, with the run's sources and LIS systems."""
    def change(doc: dict[str, Any]) -> None:
        _local(site, doc, concurrency)
        sends = [s for s in doc["defaults"]["send"] if s["source"] in site.sources and s["recipient_code"] in site.lis]
        for send in sends:
            send["options"] = ({"adapter": "synthetic", "rows": rows} if export is None else
                               {"adapter": "directory", "folder": "exports/{source}/{municipality}", "settle_seconds": 60})
        doc["defaults"]["send"] = sends
    edit(site.vendor, change)
    for path in (site.vendor.parent / "municipalities").glob("*.toml"):  # overrides of streams left out go too
        doc = tomllib.loads(path.read_text())
        doc["send"] = [s for s in doc.get("send", []) if s.get("source") in site.sources]
        if doc["send"]:
            path.write_text(tomli_w.dumps(doc))
        else:
            path.unlink()
    if export is not None:
        _link_exports(site, export)
    return site.vendor


def write_lis(site: CountrySite, lis: str, concurrency: int, sink: dict[str, Any]) -> Path:
    """The LIS vendor's example for ``lis`` (LIS01's file, with the other system's name)."""
    folder = site.lis_agent(lis).parent
    shutil.copytree(site.root / "lis-vendor", folder)
    text = (folder / "agent.toml").read_text()
    (folder / "agent.toml").write_text(text.replace("LIS01", lis).replace("lis01", lis.lower()))
    shutil.rmtree(folder / "municipalities")  # its override names a database server that is not here

    def change(doc: dict[str, Any]) -> None:
        _local(site, doc, concurrency)
        doc["agent"]["municipalities"] = "../municipalities.csv"
        doc["defaults"]["receive"]["sinks"] = [sink]
        doc["defaults"]["receive"].pop("expect", None)
    edit(folder / "agent.toml", change)
    return folder / "agent.toml"


def _local(site: CountrySite, doc: dict[str, Any], concurrency: int) -> None:
    doc["agent"].update(environment="local", poll_interval=1, concurrency=concurrency)
    doc["environments"]["local"]["port"] = site.port


def _link_exports(site: CountrySite, export: Path) -> None:
    old = time.time() - 3600  # the directory adapter skips files changed in the last settle_seconds
    for municipality in site.municipalities:
        for source in site.sources:
            folder = site.vendor.parent / "exports" / source.upper() / municipality  # {source} is the code
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / export.name
            if not target.exists():
                os.link(export, target)
            os.utime(target, (old, old))


def edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    doc = tomllib.loads(path.read_text())
    change(doc)
    path.write_text(tomli_w.dumps(doc))
