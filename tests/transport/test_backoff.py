"""Retry delays and what is retried."""

from __future__ import annotations

import pytest

from sf1630.errors import HostKeyError, RemoteMissing, RemoteRefused, TransportError
from sf1630.transport.backoff import next_delay, should_retry


def test_next_delay_doubles_up_to_the_cap_with_full_jitter():
    assert [next_delay(a, base=1, cap=10, rand=0.999999) for a in range(6)] == \
        pytest.approx([1, 2, 4, 8, 10, 10], rel=1e-5)
    assert next_delay(3, rand=0.0) == 0.0
    assert next_delay(3, base=2, rand=0.5) == 8.0
    assert next_delay(10_000, cap=300, rand=0.5) == 150.0  # no overflow on huge attempts
    assert 0 <= next_delay(4) <= 16


def test_what_is_retried():
    assert should_retry(TransportError("lost"))
    assert not should_retry(HostKeyError("changed"))
    assert not should_retry(RemoteRefused("locked"))
    assert not should_retry(RemoteMissing("gone"))
    assert not should_retry(ValueError("bug"))
    assert should_retry(RemoteRefused("locked"), also=(RemoteRefused,))  # rule 2: locked names
