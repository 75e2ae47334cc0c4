"""Retry delays and the retry helper."""

from __future__ import annotations

import asyncio

import pytest

from sf1630.errors import HostKeyError, RemoteMissing, RemoteRefused, TransportError
from sf1630.transport.backoff import decorrelated_delay, next_delay, retry, should_retry


def test_next_delay_doubles_up_to_the_cap_with_full_jitter():
    assert [next_delay(a, base=1, cap=10, rand=0.999999) for a in range(6)] == \
        pytest.approx([1, 2, 4, 8, 10, 10], rel=1e-5)
    assert next_delay(3, rand=0.0) == 0.0
    assert next_delay(3, base=2, rand=0.5) == 8.0
    assert next_delay(10_000, cap=300, rand=0.5) == 150.0  # no overflow on huge attempts
    assert 0 <= next_delay(4) <= 16


def test_decorrelated_delay_stays_between_base_and_cap():
    assert decorrelated_delay(10, base=1, cap=300, rand=0.0) == 1
    assert decorrelated_delay(10, base=1, cap=300, rand=1.0) == 30
    assert decorrelated_delay(200, base=1, cap=300, rand=1.0) == 300


def test_what_is_retried():
    assert should_retry(TransportError("lost"))
    assert not should_retry(HostKeyError("changed"))
    assert not should_retry(RemoteRefused("locked"))
    assert not should_retry(RemoteMissing("gone"))
    assert not should_retry(ValueError("bug"))
    assert should_retry(RemoteRefused("locked"), also=(RemoteRefused,))  # rule 2: locked names


def _flaky(errors: list[BaseException]):
    calls = []

    async def op():
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return "done"
    return op, calls


def test_retry_retries_transport_errors_then_succeeds():
    op, calls = _flaky([TransportError("a"), TransportError("b")])
    slept: list[float] = []

    async def sleep(d: float) -> None:
        slept.append(d)

    assert asyncio.run(retry(op, attempts=5, base=1, sleep=sleep)) == "done"
    assert len(calls) == 3 and len(slept) == 2 and slept[1] <= 2


@pytest.mark.parametrize("error", [HostKeyError("k"), RemoteRefused("r")])
def test_retry_does_not_retry_refusals(error):
    op, calls = _flaky([error])
    with pytest.raises(type(error)):
        asyncio.run(retry(op, sleep=lambda d: asyncio.sleep(0)))
    assert len(calls) == 1


def test_retry_gives_up_after_the_attempts_and_can_be_told_to_retry_refusals():
    op, calls = _flaky([RemoteRefused("locked")] * 3)
    seen = []
    with pytest.raises(RemoteRefused):
        asyncio.run(retry(op, attempts=3, also=(RemoteRefused,), sleep=lambda d: asyncio.sleep(0),
                          on_retry=lambda n, e, d: seen.append(n)))
    assert len(calls) == 3 and seen == [1, 2]
