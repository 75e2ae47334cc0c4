"""transport/blocking.py: blocking calls from the event loop, waited for when short, beside it when long."""

from __future__ import annotations

import asyncio
import contextvars
import time

import pytest

from sf1630.transport import blocking

WHO = contextvars.ContextVar("who", default="nobody")


def test_returns_the_result_and_raises_the_calls_error():
    def add(a, b, *, c=0):
        return a + b + c

    def broken():
        raise ValueError("the disk said no")

    def times_out():  # an error of the call itself, not the wait
        raise TimeoutError("the database did not answer")

    async def main():
        assert await blocking.call(add, 1, 2, c=3) == 6
        with pytest.raises(ValueError, match="the disk said no"):
            await blocking.call(broken)
        with pytest.raises(TimeoutError, match="did not answer"):
            await blocking.call(times_out)

    asyncio.run(main())


def test_the_call_sees_the_callers_context_variables():
    # The journal's fence travels in a context variable: a call that did not see it could act for a
    # process that lost its lease.
    async def main():
        WHO.set("the receiver")
        return await blocking.call(WHO.get)

    assert asyncio.run(main()) == "the receiver"


def test_a_short_call_keeps_the_loop_until_it_ends():
    # Waited for on the loop's thread: nothing else runs on the loop meanwhile, so the two threads do
    # not take turns at the GIL (with asyncio.to_thread the other work would run at once).
    ran = []

    def short():
        time.sleep(0.002)
        return list(ran)

    async def main():
        asyncio.get_running_loop().call_soon(ran.append, "other work")
        return await blocking.call(short)

    assert asyncio.run(main()) == []


def test_a_long_call_frees_the_loop_and_the_next_such_call_is_not_waited_for(monkeypatch):
    monkeypatch.setattr(blocking, "WAIT", 0.05)
    ran = []

    def slow():
        time.sleep(0.02)
        seen = list(ran)  # what the loop did in the call's first 20 ms
        time.sleep(0.2)
        return seen

    async def ticking(stop: asyncio.Event, gaps: list[float]):
        last = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.001)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    async def main():
        results = []
        for _ in range(2):
            ran.clear()
            stop, gaps = asyncio.Event(), []
            ticker = asyncio.create_task(ticking(stop, gaps))
            await asyncio.sleep(0.01)
            began = len(gaps)
            asyncio.get_running_loop().call_soon(ran.append, "other work")
            results.append((await blocking.call(slow), gaps[began:]))
            stop.set()
            await ticker
        return results

    (first, gaps1), (second, gaps2) = asyncio.run(main())
    # Not known yet: waited for, but only for WAIT; the loop then ran on beside it.
    assert first == []
    assert len(gaps1) > 20 and max(gaps1) < 0.05 + 0.1
    # Known to take longer than WAIT: the loop was free from the start.
    assert second == ["other work"]
    assert len(gaps2) > 20 and max(gaps2) < 0.1


def test_a_kind_of_call_that_got_quick_again_is_waited_for_again(monkeypatch):
    monkeypatch.setattr(blocking, "WAIT", 0.05)
    monkeypatch.setattr(blocking, "RETRY", 3)
    ran, pause = [], [0.1]

    def load():  # slow the first time (a big file, a busy disk), quick afterwards
        time.sleep(0.02)
        seen = list(ran)
        time.sleep(pause[0])
        return seen

    async def one():
        ran.clear()
        asyncio.get_running_loop().call_soon(ran.append, "other work")
        return await blocking.call(load)

    async def main():
        seen = [await one()]
        pause[0] = 0.0
        return seen + [await one() for _ in range(4)]

    # waited (unknown), not waited twice (slow last time), waited again at the third: quick, so waited on
    assert asyncio.run(main()) == [[], ["other work"], ["other work"], [], []]
