"""``python -m bench.profiles DIR``: top-N tables (cumulative and self time) of the part 3 profiles.

``python -m bench --parts 3 --big 0 --profile DIR`` writes one cProfile file per process
(LABEL.send.prof, LABEL.receive.prof, LABEL.simulator.prof); this prints them as Markdown tables.
"""

from __future__ import annotations

import argparse
import pstats
import sys
from pathlib import Path


def where(func: tuple[str, int, str]) -> str:
    """``package/module.py:line(name)`` with the site-packages or tree prefix cut off."""
    path, line, name = func
    if path == "~":
        return name  # a C function
    for cut in ("site-packages/", "/agent/", "/plugins/", "/lib/python3"):
        if cut in path:
            path = path.split(cut, 1)[1]
            break
    return f"{path}:{line}({name})"


# Frames every call passes through (start-up, the event loop, worker threads): by cumulative time
# they fill a table's top and tell nothing about where the work is.
PLUMBING = ("<frozen runpy>", "asyncio/base_events.py", "asyncio/events.py", "asyncio/runners.py",
            "concurrent/futures/thread.py", "'_contextvars.Context'", "builtins.exec", "sf1630/__main__.py",
            "sf1630/cli/", "threading.py", "<string>")


def table(stats: pstats.Stats, key: str, top: int) -> list[str]:
    """The ``top`` functions by ``key`` ('cumulative' or 'tottime') as Markdown rows."""
    total = stats.total_tt or 1.0
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][3 if key == "cumulative" else 2], reverse=True)
    if key == "cumulative":
        rows = [(f, v) for f, v in rows if not any(p in f"{f[0]}:{f[2]}" for p in PLUMBING)]
    out = ["| function | calls | self s | cumulative s | % of process |", "|---|--:|--:|--:|--:|"]
    for func, (_, calls, tt, ct, _) in rows[:top]:
        share = (ct if key == "cumulative" else tt) / total * 100
        out.append(f"| `{where(func)}` | {calls:,} | {tt:.2f} | {ct:.2f} | {share:.0f} |")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.profiles", description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--top", type=int, default=20)
    a = ap.parse_args(argv)
    files = sorted(a.folder.glob("*.prof"))
    if not files:
        print(f"no .prof files in {a.folder}; run python -m bench --parts 3 --profile {a.folder}", file=sys.stderr)
        return 1
    for path in files:
        stats = pstats.Stats(str(path))
        print(f"### {path.stem} ({stats.total_tt:.2f} s profiled)\n")
        for key, title in (("cumulative", "by cumulative time"), ("tottime", "by self time")):
            print(f"{title}:\n")
            print("\n".join(table(stats, key, a.top)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
