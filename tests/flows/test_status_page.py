"""The status page (issue #24): a real site with loaded, overdue, failed and quarantined cells, served by
`sf1630 run --http-port`, read in a real headless Chromium, and written once by `status --html`."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sf1630.core.steps import covered_period
from sf1630.testing.sshd import free_port

from .conftest import AULA, HERNING, IKAST, KY, edit_toml, run_receive, run_send, sf1630

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class Cells(HTMLParser):
    """The page's matrix cells and table headers, as Chromium's DOM has them."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str, str], str] = {}  # (direction, municipality, column) -> data-state
        self.headers: list[tuple[str, str]] = []  # (scope, text)
        self.captions = 0
        self._direction = ""
        self._th: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "table" and "data-direction" in a:
            self._direction = a["data-direction"]
        elif tag == "td" and "data-state" in a:
            self.cells[(self._direction, a["data-municipality"], a["data-column"])] = a["data-state"]
        elif tag == "th":
            self._th = a.get("scope", "")
            self.headers.append((self._th, ""))
        elif tag == "caption":
            self.captions += 1

    def handle_data(self, data: str) -> None:
        if self._th is not None:
            scope, text = self.headers[-1]
            self.headers[-1] = (scope, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "th":
            self._th = None


def build_site(make_platform, make_agent_config, tmp_path: Path) -> tuple[Path, str]:
    """One agent that sends KY and AULA for two municipalities and receives them, with four kinds of cell."""
    platform = make_platform(sources=(KY, AULA))
    site = make_agent_config(platform, "site", rows=9)
    municipalities = site.parent / "municipalities"

    def ikast(doc):
        doc["send"][0]["recipients"] = ["NOBODY_LIS01_SIMPEL"]  # KY: error receipt 400
        doc["receive"]["expect"] = [{"source": "ksd", "schedule": "0 0 1 * *"}]  # never sent: overdue

    strict = tmp_path / "herning.sqlite3"
    with sqlite3.connect(strict) as db:  # a KY table of the LIS's own with other columns: quarantined
        db.execute("CREATE TABLE ky (something_else TEXT)")
    edit_toml(municipalities / f"{IKAST.key}.toml", ikast)
    edit_toml(municipalities / f"{HERNING.key}.toml", lambda doc: doc["receive"].update(
        sinks=[{"type": "sqlite", "options": {"path": str(strict), "schema": "strict"}}]))
    sent, _ = run_send(site)
    assert sorted(t.state for t in sent.transfers) == ["cleaned", "delivered", "delivered", "delivered"]
    earlier = f"M{(int(sent.transfers[0].period[1:]) - 3) % 12 + 1:02d}"  # the period before
    again, _ = run_send(site, {"municipalities": (HERNING.key,), "sources": ("ky",)}, period=earlier)
    assert [t.state for t in again.transfers] == ["delivered"]
    platform.wait_idle()
    reports, _ = run_receive(site)
    assert sum(len(r.loaded) for r in reports) == 2 and sum(len(r.quarantined) for r in reports) == 2
    return site, covered_period(earlier, datetime.now())


DELIVERY_COLUMNS = {"authority", "period", "source"}  # set by the sinks from the file name (issue #19)


def row_values(site: Path, tmp_path: Path) -> set[str]:
    """Every value of every row the extracts held: the loaded tables and the quarantined file."""
    values: set[str] = set()
    for database in (site.parent / "lis.sqlite3", tmp_path / "herning.sqlite3"):
        with sqlite3.connect(database) as db:
            tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in set(tables) & {"ky", "aula"}:
                cursor = db.execute(f'SELECT * FROM "{table}"')
                names = [d[0] for d in cursor.description]
                for row in cursor:  # the delivery's own columns (whose file, which period) are names, not row data
                    values |= {str(v) for n, v in zip(names, row)
                               if not n.startswith("_") and n not in DELIVERY_COLUMNS and v is not None}
    for kept in (site.parent / "state" / "spool" / "quarantine").rglob("*.csv"):
        with kept.open(newline="", encoding="utf-8") as f:
            values |= {v for row in list(csv.reader(f, delimiter=";"))[1:] for v in row}
    # Short numbers (days, counts) also occur as row counts and times; identifying values are longer.
    found = {v for v in values if len(v) >= 5 and not DATE.fullmatch(v)}
    assert len(found) > 20, sorted(values)[:20]
    return found


def chromium(*args: str) -> str:
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-dev-shm-usage", *args], capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_healthy(base: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            if get(base + "healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base}healthz never answered 200: {get(base + 'healthz')}")


@needs_chromium
def test_the_page_shows_each_cell_state_in_chromium_and_no_row_values(make_platform, make_agent_config,
                                                                       tmp_path):
    site, earlier = build_site(make_platform, make_agent_config, tmp_path)
    secrets = row_values(site, tmp_path)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sf1630", "--log-level", "WARNING", "run", "--config", str(site),
                             "--http-port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}/"
    try:
        wait_healthy(base, proc)
        dom = chromium("--dump-dom", base)
        before = chromium("--dump-dom", f"{base}?period={earlier}")
        unknown = get(base + "?period=1999-M01")[1]
        shot = tmp_path / "status-page.png"
        chromium(f"--screenshot={shot}", "--window-size=1280,1260", "--hide-scrollbars", base)
        status, api = get(base + "api/status")
        metrics = get(base + "metrics")[1]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err

    page = Cells()
    page.feed(dom)
    assert page.cells[("send", IKAST.key, "ky>LIS")] == "failed"
    assert page.cells[("send", IKAST.key, "aula>LIS")] == "ok"
    assert page.cells[("send", HERNING.key, "ky>LIS")] == "ok"
    assert page.cells[("receive", HERNING.key, "ky")] == "quarantined"
    assert page.cells[("receive", HERNING.key, "aula")] == "ok"
    assert page.cells[("receive", IKAST.key, "aula")] == "ok"
    assert page.cells[("receive", IKAST.key, "ksd")] == "overdue"
    assert page.cells[("receive", HERNING.key, "ksd")] == "unexpected"
    past = Cells()
    past.feed(before)
    assert past.cells[("send", HERNING.key, "ky>LIS")] == "ok" and past.cells[("send", IKAST.key, "ky>LIS")] == "none"
    assert past.cells[("receive", HERNING.key, "ky")] == "quarantined"
    assert f'aria-current="page">{earlier}<' in before and "No period 1999-M01 in the journal" in unknown
    assert "failed 400" in dom and "quarantined" in dom and "loaded" in dom and "overdue" in dom
    # The resolving command is in the failed cell, and the attention list is above the matrix.
    assert f"sf1630 send --municipality {IKAST.key} --source ky --period" in dom
    assert dom.index("Needs attention (") < dom.index('data-direction="send"')
    assert ("col", "Municipality") in page.headers and ("row", "Herning Kommune") in page.headers
    assert ("col", "KSD") in page.headers and page.captions >= 4
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'http-equiv="refresh"' in dom and "<script" not in dom and "http://" not in dom.split("<body")[0]

    report = json.loads(api)
    assert status == 200 and {a["kind"] for a in report["attention"]} == {"send_failed", "load_quarantined",
                                                                          "extract_overdue"}
    assert "sf1630_transfers" in metrics
    html_file = tmp_path / "mailed.html"
    written = sf1630("status", "--config", str(site), "--html", str(html_file))
    assert written.returncode == 0, written.stderr
    static = html_file.read_text()
    assert 'data-state="quarantined"' in static and 'data-state="overdue"' in static and "refresh" not in static
    for where, text in (("page", dom), ("api", api), ("html file", static)):
        leaked = sorted(v for v in secrets if v in text)
        assert not leaked, f"row values in the {where}: {leaked[:5]}"
    if os.environ.get("SF1630_SCREENSHOT"):  # refresh the docs' picture: SF1630_SCREENSHOT=docs/img/...
        shutil.copy(shot, os.environ["SF1630_SCREENSHOT"])


def test_healthz_is_503_while_the_journal_is_missing_and_200_again_once_it_is_back(make_platform,
                                                                                   make_agent_config, tmp_path):
    platform = make_platform(sources=(KY,), municipalities=(IKAST,))
    lis = make_agent_config(platform, "lis", send=False, agent={"http_port": free_port()})
    proc = subprocess.Popen([sys.executable, "-m", "sf1630", "--log-level", "WARNING", "run", "--config", str(lis)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    import tomllib

    base = f"http://127.0.0.1:{tomllib.loads(lis.read_text())['agent']['http_port']}/"
    journal = lis.parent / "state" / "journal.sqlite"
    try:
        wait_healthy(base, proc)
        journal.rename(journal.with_name("moved.sqlite"))
        code, text = get(base + "healthz")
        assert code == 503 and f"the journal {journal} is missing" in text
        journal.with_name("moved.sqlite").rename(journal)
        assert get(base + "healthz") == (200, "ok\n")
        assert get(base + "nothing")[0] == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


def test_demo_serve_keeps_both_sites_running_with_their_pages_until_ctrl_c(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "sf1630", "demo", "--serve", "--rows", "20", "--workdir",
                             str(tmp_path / "demo")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    urls: dict[str, str] = {}
    try:
        for line in proc.stdout:
            found = re.match(r"(\S+): status page on (http://127\.0\.0\.1:\d+/)", line)
            if found:
                urls[found[1]] = found[2]
            if len(urls) == 2:
                break
        assert set(urls) == {"source-vendor", "lis"}, proc.communicate(timeout=5)
        sent, received = get(urls["source-vendor"])[1], get(urls["lis"])[1]
        assert get(urls["lis"] + "healthz") == (200, "ok\n")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err and "ERROR" not in err, err
    assert "stopped: the platform simulator and both sites" in out
    assert sent.count('data-state="ok"') == 10 and "delivered" in sent
    assert received.count('data-state="ok"') == 10 and "loaded" in received


def test_two_different_ports_or_a_taken_port_are_refused_with_what_to_do(make_platform, make_agent_config):
    platform = make_platform(sources=(KY,), municipalities=(IKAST,))
    lis = make_agent_config(platform, "lis", send=False)
    missing = sf1630("status", "--config", str(lis), "--html", str(lis.parent / "page.html"))
    assert missing.returncode != 0 and "no journal at" in missing.stderr and not (lis.parent / "page.html").exists()
    both = sf1630("run", "--config", str(lis), "--http-port", "9630", "--metrics-port", "9631")
    assert both.returncode != 0 and "give one of them" in both.stderr
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = sf1630("run", "--config", str(lis), "--http-port", str(taken.getsockname()[1]))
    assert busy.returncode != 0 and "cannot listen on 127.0.0.1" in busy.stderr and "choose a free port" in busy.stderr
