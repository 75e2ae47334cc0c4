"""``python -m bench.profiled OUT -m MODULE ARGS...``: run a module under cProfile, every thread counted.

``python -m cProfile`` sees the main thread only and measures wall time, so the journal's commits
and the spool's writes (worker threads) would be missing and waiting in ``epoll`` would look like
work. Here each thread gets its own profiler timed by ``time.thread_time`` (CPU), and OUT holds
their sum when the program ends (also on SIGTERM, which the simulator turns into a clean exit).
"""

from __future__ import annotations

import cProfile
import marshal
import runpy
import sys
import threading
import time

_profiles: list[cProfile.Profile] = []


def _start_thread(*_) -> None:
    # The first profile event of a new thread: hand the thread to a C profiler of its own.
    profile = cProfile.Profile(time.thread_time)
    _profiles.append(profile)
    profile.enable()


def _dump(path: str) -> None:
    merged: dict = {}
    for profile in _profiles:
        profile.snapshot_stats()
        for func, (cc, nc, tt, ct, callers) in profile.stats.items():
            old = merged.get(func)
            if old is None:
                merged[func] = (cc, nc, tt, ct, dict(callers))
                continue
            joined = dict(old[4])
            for k, v in callers.items():
                joined[k] = tuple(a + b for a, b in zip(joined[k], v)) if k in joined else v
            merged[func] = (old[0] + cc, old[1] + nc, old[2] + tt, old[3] + ct, joined)
    with open(path, "wb") as f:
        marshal.dump(merged, f)


def main() -> None:
    out, flag, module, *rest = sys.argv[1:]
    if flag != "-m":
        raise SystemExit("usage: python -m bench.profiled OUT -m MODULE ARGS...")
    sys.argv = [module, *rest]
    threading.setprofile(_start_thread)
    main_profile = cProfile.Profile(time.thread_time)
    _profiles.append(main_profile)
    code = 0
    main_profile.enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
    finally:
        main_profile.disable()
        threading.setprofile(None)
        _dump(out)
    sys.exit(code)


if __name__ == "__main__":
    main()
