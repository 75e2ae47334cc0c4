"""The agent as a service: the scheduler until ``stop``, with its web server when asked (issue #24).

``sf1630 run`` and ``sf1630 demo --serve`` both run a site through here. The web server gets the
runtime's journal (read only), the plugin host and two probes for ``/healthz``: the scheduler task
runs and its event loop answers, and the journal file answers a fresh read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sf1630.agent.reload import loader, reload_on_hangup
from sf1630.agent.runtime import Selection, build_runtime
from sf1630.agent.scheduler import Scheduler
from sf1630.events import Emit
from sf1630.ops.metrics import Metrics
from sf1630.ops.web import agent_site, listen, loop_problem


async def run_service(cfg: Any, stop: asyncio.Event, *, selection: Selection | None = None,
                      where: tuple[str, int] | None = None, status: Callable[[], dict[str, Any]] | None = None,
                      emitters: Iterable[Emit] = (), listening: Callable[[Any], None] | None = None,
                      config_file: tuple[Path, str | None] | None = None) -> None:
    """Run ``cfg``'s jobs until ``stop``; with ``where`` (host, port) serve the page, API, health, metrics.

    With ``config_file`` (path, environment), SIGHUP reloads the configuration from it.
    """
    metrics = None
    if where:
        metrics = Metrics()
    rt = build_runtime(cfg, command="run", emitters=[*emitters, *([metrics] if metrics else [])])
    web = None
    try:
        jobs = Scheduler(rt, stop, selection=selection, lease_seconds=cfg.lease_seconds)
        scheduler = asyncio.ensure_future(jobs.run())
        if config_file:
            reloads = asyncio.ensure_future(reload_on_hangup(jobs, loader(*config_file, rt.host), stop))
            scheduler.add_done_callback(lambda _: reloads.cancel())
        if where and metrics:
            try:
                web = _serve(cfg, rt, metrics, where, scheduler, stop, status)
            except BaseException:
                scheduler.cancel()
                raise
            if listening:
                listening(web)
        await scheduler
    finally:
        if web:
            web.close()
        await rt.aclose()


def _serve(cfg: Any, rt: Any, metrics: Any, where: tuple[str, int], scheduler: Any, stop: asyncio.Event,
           status: Callable[[], dict[str, Any]] | None) -> Any:
    metrics.attach(rt.journal)
    probe = loop_problem(scheduler, asyncio.get_running_loop(), stop)
    site = agent_site(cfg, rt.journal, rt.host, metrics, status or (lambda: {}), (probe,))
    return listen(site, *where)
