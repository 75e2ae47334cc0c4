"""The status page as one HTML document: stdlib only, CSS inline, no script (issue #24).

The matrix is a real table (a caption, ``<th scope>`` headers) so a screen reader reads "Herning,
KY: loaded". Each cell says its state in a word as well as a colour, and keeps the file name, time,
rows and the resolving command in a ``title`` (hover) and a ``<details>`` (click or keyboard).
Every value is escaped; the page carries names, counts, sizes, times and codes only.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote

from sf1630.ops.attention import Attention
from sf1630.ops.overview import Cell, Matrix, Overview

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1rem 2rem;color:#1b1b1b;background:#fafafa}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse;background:#fff}caption{text-align:left;padding:.3rem 0}caption h2{margin:.6rem 0 .2rem}
th,td{border:1px solid #c8c8c8;padding:.25rem .5rem;text-align:left;vertical-align:top}
thead th{background:#eee}tbody th{font-weight:600;white-space:nowrap}
.muted{color:#555}code{font-size:.92em;background:#f0f0f0;padding:0 .2rem}
.cell{min-width:8.5rem}.cell details summary{cursor:pointer;font-weight:600}
.cell dl{margin:.3rem 0 0;font-size:.85em}.cell dt{font-weight:600}.cell dd{margin:0 0 .2rem}
.ok{background:#d9f2dc}.waiting{background:#dbe9fb}.overdue{background:#ffe7b8}
.failed{background:#f8c9c4}.quarantined{background:#e8d3f5}.pending{background:#fff}
.none{background:#f2f2f2}.unexpected{background:#fafafa;color:#777}
.up{color:#1d6b2b;font-weight:600}.down{color:#a3160b;font-weight:600}
nav ul,.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.4rem}
nav a,.legend li{padding:.1rem .5rem;border:1px solid #c8c8c8;border-radius:3px}
nav a[aria-current]{font-weight:700;background:#1b1b1b;color:#fff}
ul.attention li{margin:.3rem 0}
"""
TITLES = {"send": "Sent", "receive": "Received"}
LEGEND = (("ok", "loaded / delivered"), ("waiting", "waiting for receipt / in progress"),
          ("overdue", "overdue"), ("failed", "failed (receipt code)"), ("quarantined", "quarantined"),
          ("pending", "not yet"), ("none", "nothing sent or received"), ("unexpected", "not expected"))


def render_page(overview: Overview, period: str | None = None, *,
                refresh: int | None = 60, links: bool = True) -> str:
    """The page for ``period`` (default: the current one); ``links`` off for a file (no server to ask)."""
    chosen = period if period in overview.periods else overview.current
    head = [f'<meta http-equiv="refresh" content="{int(refresh)}">'] if refresh else []
    body = [_header(overview, refresh, period if period and period != chosen else None),
            _attention(overview.attention), _accounts(overview), _jobs(overview),
            _periods(overview, chosen, links)]
    body += [_matrix(m, chosen) for m in overview.matrices] or ['<p>No [[send]] or [receive] is configured.</p>']
    body.append(_legend())
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n' + "".join(head) +
            f"<title>sf1630 status: {escape(overview.environment)}</title>\n<style>{CSS}</style>\n</head>\n"
            "<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")


def _header(o: Overview, refresh: int | None, unknown: str | None) -> str:
    again = f"; it refreshes every {int(refresh)} s" if refresh else ""
    out = [f"<header><h1>sf1630 status</h1><p class=\"muted\">Environment {_e(o.environment)}, "
           f"made {_time(o.generated)}{again}.</p></header>"]
    if unknown:
        out.append(f"<p role=\"alert\">No period {_e(unknown)} in the journal; showing {_e(o.current)}.</p>")
    return "\n".join(out)


def _attention(items: list[Attention]) -> str:
    if not items:
        return '<section><h2 id="attention">Needs attention: nothing</h2></section>'
    lines = [f'<section aria-labelledby="attention"><h2 id="attention">Needs attention ({len(items)})</h2>'
             '<ul class="attention">']
    for a in items:
        where = " ".join(x for x in (a.municipality, a.source, a.file or a.account) if x)
        lines.append(f"<li><strong>{_e(a.kind)}</strong> {_e(where)} <span class=\"muted\">since "
                     f"{_time(a.since)}</span>: {_e(a.message)}<br>resolve: <code>{_e(a.resolve)}</code></li>")
    return "\n".join(lines) + "</ul></section>"


def _accounts(o: Overview) -> str:
    rows = []
    for a in o.accounts:
        if a.up is False:
            state = f'<span class="down">unreachable</span> since {_time(a.since)}: {_e(a.note)}'
        elif a.up:
            state = f'<span class="up">reachable</span> <span class="muted">last transfer {_time(a.since)}</span>'
        else:
            state = f'<span class="muted">not known yet: {_e(a.note)}</span>'
        rows.append(f'<tr><th scope="row">{_e(a.name)}</th><td>{_e(a.user)}</td><td>{_e(a.environment)}</td>'
                    f"<td>{state}</td></tr>")
    return _table("Platform reachability per account", ("Account", "SFTP user", "Environment", "State"), rows)


def _jobs(o: Overview) -> str:
    rows = [f'<tr><th scope="row">{_e(j.job)}</th><td><code>{_e(j.schedule)}</code></td>'
            f"<td>{_time(j.next_run) if j.next_run else 'each round'}</td><td>{_e(j.note)}</td></tr>" for j in o.jobs]
    return _table("Next scheduled run per job", ("Job", "Schedule", "Next run", "Note"), rows)


def _table(caption: str, heads: tuple[str, ...], rows: list[str]) -> str:
    if not rows:
        return f"<p>{_e(caption)}: none configured.</p>"
    th = "".join(f'<th scope="col">{_e(h)}</th>' for h in heads)
    return (f"<table><caption><h2>{_e(caption)}</h2></caption><thead><tr>{th}</tr></thead><tbody>\n"
            + "\n".join(rows) + "\n</tbody></table>")


def _periods(o: Overview, chosen: str, links: bool) -> str:
    if not links:
        return (f'<h2 id="period">Period {_e(chosen)}</h2><p class="muted">The agent\'s page (sf1630 run '
                "--http-port) shows the other periods.</p>")
    items = []
    for p in o.periods:
        current = ' aria-current="page"' if p == chosen else ""
        note = " (current)" if p == o.current else ""
        items.append(f'<li><a href="?period={quote(p)}"{current}>{_e(p)}{note}</a></li>')
    return (f'<nav aria-labelledby="period"><h2 id="period">Period {_e(chosen)}</h2><ul>' + "".join(items)
            + "</ul></nav>")


def _matrix(m: Matrix, period: str) -> str:
    title = f"{TITLES.get(m.direction, m.direction)} in period {period}"
    heads = "".join(f'<th scope="col">{_e(label)}</th>' for _, label in m.columns)
    rows = []
    for key, name in m.municipalities:
        cells = "".join(_cell(m.cell(period, key, column), key, column) for column, _ in m.columns)
        rows.append(f'<tr><th scope="row">{_e(name)}</th>{cells}</tr>')
    return (f'<section><table class="matrix" data-direction="{_e(m.direction)}"><caption><h2>{_e(title)}</h2>'
            '<span class="muted">A row per municipality, a column per source.</span></caption>'
            f'<thead><tr><th scope="col">Municipality</th>{heads}</tr></thead><tbody>\n'
            + "\n".join(rows) + "\n</tbody></table></section>")


def _cell(c: Cell, municipality: str, column: str) -> str:
    facts = [("file", c.file), ("time", _time(c.at) if c.at else None), ("rows", c.rows),
             ("bytes", c.size), ("why", c.note), ("resolve", c.resolve)]
    facts = [(k, v) for k, v in facts if v not in (None, "")]
    attrs = (f'class="cell {c.state}" data-state="{c.state}" data-municipality="{_e(municipality)}" '
             f'data-column="{_e(column)}"')
    if not facts:
        return f"<td {attrs}>{_e(c.word)}</td>"
    title = "; ".join(f"{k}: {v}" for k, v in facts)
    details = "".join(f"<dt>{_e(k)}</dt><dd>{_code(k, v)}</dd>" for k, v in facts)
    return (f'<td {attrs} title="{_e(title)}"><details><summary>{_e(c.word)}</summary>'
            f"<dl>{details}</dl></details></td>")


def _code(key: str, value: Any) -> str:
    return f"<code>{_e(value)}</code>" if key == "resolve" else _e(value)


def _legend() -> str:
    items = "".join(f'<li class="{k}">{_e(word)}</li>' for k, word in LEGEND)
    return f'<h2 id="legend">Key</h2><ul class="legend" aria-labelledby="legend">{items}</ul>'


def _time(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "-"


def _e(value: Any) -> str:
    return escape(str(value), quote=True)
