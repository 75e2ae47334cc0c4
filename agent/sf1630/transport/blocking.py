"""Blocking calls (disk syncs, SQLite, a sink's load) made from the event loop, with few thread hand-offs.

``asyncio.to_thread`` runs a call beside the event loop, and in CPython the two threads then take
turns at the GIL: each time the worker lets go of it (every SQLite statement, every sync) the busy
loop takes it and the worker waits for it again. In the receiver that came to 400 futex calls and
200 context switches per delivery, a quarter of its CPU (issue #23). Most of these calls are short
(a journal commit 0.3-0.6 ms, a small load 2 ms, a small extract 3 ms), so the loop's thread waits
for them instead and the worker runs alone. A call still running after ``WAIT`` goes on beside the
loop as before; a kind of call that took longer the last time (a big load, a slow disk's sync) is
not waited for, except one call in ``RETRY`` that looks again. The loop stalls for ``WAIT`` at most.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

WAIT = 0.01  # seconds the loop waits for a call before it lets the call run beside it
RETRY = 8  # a kind of call that took longer is waited for again at every RETRY-th call, to see if it still does

_pool: ThreadPoolExecutor | None = None
_took: dict[str, float] = {}  # a kind of call (its qualified name) -> how long it took when last waited for
_passed: dict[str, int] = {}  # a kind of call -> calls not waited for since


async def call(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``await asyncio.to_thread(fn, ...)``, waited for on the loop's thread if its kind ended within ``WAIT`` before.

    As with ``to_thread``, the call sees the caller's context variables (the journal's fence).
    """
    kind = getattr(fn, "__qualname__", "")
    future = _executor().submit(contextvars.copy_context().run, functools.partial(fn, *args, **kwargs))
    if _worth_waiting(kind):
        began = time.perf_counter()
        try:
            return future.result(timeout=WAIT)  # lets go of the GIL once, until the call ends
        except TimeoutError:
            if future.done():  # the call's own TimeoutError
                raise
        finally:
            # Timed only while waited for: a call beside the busy loop takes longer, waiting for the GIL.
            _took[kind] = time.perf_counter() - began if future.done() else math.inf
    return await asyncio.wrap_future(future)


def _worth_waiting(kind: str) -> bool:
    if _took.get(kind, 0.0) < WAIT:
        return True
    passed = _passed[kind] = _passed.get(kind, 0) + 1
    if passed < RETRY:
        return False
    _passed[kind] = 0
    return True


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:  # as many workers as asyncio's default executor
        _pool = ThreadPoolExecutor(max_workers=min(32, (os.cpu_count() or 1) + 4), thread_name_prefix="sf1630-io")
    return _pool
