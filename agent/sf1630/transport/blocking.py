"""Blocking calls (disk syncs, SQLite, a sink's load) made from the event loop, with few thread hand-offs.

``asyncio.to_thread`` runs a call beside the event loop, and in CPython the two threads then take
turns at the GIL: each time the worker lets go of it (every SQLite statement, every sync) the busy
loop takes it and the worker waits for it again. In the receiver that came to 400 futex calls and
200 context switches per delivery, a quarter of its CPU (issue #23). Most of these calls are short
(a journal commit or a small load takes 0.3-3 ms), so the loop thread waits for them instead, and
the worker runs alone. A call still running after ``WAIT`` goes on beside the loop as before, and a
kind of call that usually takes longer (a big load, a slow disk's sync) is not waited for at all:
the loop never stalls for more than ``WAIT``, and only for calls that usually end within it.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

WAIT = 0.005  # seconds the loop waits for a call before it lets the call run beside it
_WEIGHT = 0.2  # of the latest duration in a kind of call's running mean

_pool: ThreadPoolExecutor | None = None
_usual: dict[str, float] = {}  # a kind of call (its qualified name) -> running mean of its duration, seconds


async def call(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``await asyncio.to_thread(fn, ...)``, waited for on the loop's thread when it usually ends within ``WAIT``.

    As with ``to_thread``, the call sees the caller's context variables (the journal's fence).
    """
    kind = getattr(fn, "__qualname__", "")
    future = _executor().submit(contextvars.copy_context().run, _timed, kind, functools.partial(fn, *args, **kwargs))
    if _usual.get(kind, 0.0) < WAIT:
        try:
            return future.result(timeout=WAIT)  # lets go of the GIL once, until the call ends
        except TimeoutError:
            if future.done():  # the call's own TimeoutError
                raise
    return await asyncio.wrap_future(future)


def _timed(kind: str, fn: Callable[[], T]) -> T:
    began = time.perf_counter()
    try:
        return fn()
    finally:
        took = time.perf_counter() - began
        _usual[kind] = _usual.get(kind, took) * (1 - _WEIGHT) + took * _WEIGHT


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:  # as many workers as asyncio's default executor
        _pool = ThreadPoolExecutor(max_workers=min(32, (os.cpu_count() or 1) + 4), thread_name_prefix="sf1630-io")
    return _pool

