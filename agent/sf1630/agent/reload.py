"""SIGHUP (``systemctl reload``): read the configuration again and run its jobs, if it is valid.

The files are checked first, with the running plugin host (so a source or sink option is judged
too); a file with errors is logged with every error and the running configuration stays. The
journal and the spool cannot move under a running service: a change of either is refused with
the advice to restart. Jobs are then added, retired or restarted by the scheduler without
dropping a step in flight.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sf1630.config.check import check_config
from sf1630.config.load import load_config
from sf1630.agent.scheduler import Scheduler
from sf1630.errors import ConfigError, Sf1630Error

log = logging.getLogger("sf1630.reload")

FIXED = ("journal", "spool")  # [agent] settings a running service cannot change


def loader(path: Path, env: str | None, host: Any) -> Callable[[], Any]:
    """A function that reads and checks the configuration at ``path``; ConfigError lists every problem."""
    def load() -> Any:

        problems = check_config(path, host, env)
        if problems:
            raise ConfigError("\n".join(str(p) for p in problems))
        return load_config(path, env)

    return load


async def reload_on_hangup(scheduler: Scheduler, load: Callable[[], Any], stop: asyncio.Event) -> None:
    """Until ``stop``: on each SIGHUP, reload through ``load`` and apply it to ``scheduler``."""
    hangup = asyncio.Event()
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGHUP, hangup.set)
    except (NotImplementedError, RuntimeError):  # not the main thread (a test's service): no reload
        return
    try:
        while not stop.is_set():
            waits = [asyncio.ensure_future(e.wait()) for e in (hangup, stop)]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()
            if hangup.is_set() and not stop.is_set():
                hangup.clear()
                await apply_reload(scheduler, load)
    finally:
        loop.remove_signal_handler(signal.SIGHUP)


async def apply_reload(scheduler: Scheduler, load: Callable[[], Any]) -> bool:
    """Reload once; True when the new configuration runs."""
    running = scheduler.rt.config
    try:
        new = await asyncio.to_thread(load)
    except Sf1630Error as exc:
        log.error("reload refused, the running configuration stays: the configuration has errors:\n%s", exc)
        return False
    moved = [f"{k} {getattr(running, k)} -> {getattr(new, k)}" for k in FIXED if getattr(new, k) != getattr(running, k)]
    if moved:
        log.error("reload refused, the running configuration stays: [agent] %s cannot change while the service "
                  "runs; restart it (systemctl restart sf1630) to move", "; ".join(moved))
        return False
    log.info("reloaded the configuration: %s", scheduler.apply(new))
    return True
