"""The token bucket that keeps an alert storm from flooding a channel."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spyagency.signalers.ratelimit import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_allows_its_burst_then_refuses() -> None:
    bucket = TokenBucket(rate_per_minute=6, burst=3, clock=FakeClock())
    assert [bucket.try_acquire() for _ in range(4)] == [True, True, True, False]


def test_tokens_come_back_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_minute=6, burst=1, clock=clock)  # one every 10 s
    assert bucket.try_acquire()
    assert bucket.seconds_until_available() == pytest.approx(10.0)
    clock.now += 9.0
    assert not bucket.try_acquire()
    assert bucket.seconds_until_available() == pytest.approx(1.0)
    clock.now += 1.0
    assert bucket.try_acquire()


def test_an_idle_bucket_fills_only_to_its_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_minute=60, burst=2, clock=clock)
    clock.now += 3600
    assert bucket.tokens == 2.0
    assert bucket.seconds_until_available() == 0.0


def test_zero_rate_means_the_burst_and_then_never() -> None:
    bucket = TokenBucket(rate_per_minute=0, burst=1, clock=FakeClock())
    assert bucket.try_acquire()
    assert bucket.seconds_until_available() == math.inf


def test_a_clock_stepping_back_mints_nothing() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_minute=60, burst=1, clock=clock)
    assert bucket.try_acquire()
    clock.now -= 100
    assert not bucket.try_acquire()
    clock.now += 100.5  # back to where it was, plus half a token's time
    assert not bucket.try_acquire()
    clock.now += 0.5
    assert bucket.try_acquire()


@pytest.mark.parametrize(("rate", "burst"), [(-1, 1), (math.inf, 1), (math.nan, 1), (10, 0)])
def test_nonsense_limits_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate_per_minute=rate, burst=burst)


steps = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=120, allow_nan=False),  # seconds to advance
        st.integers(min_value=0, max_value=5),  # acquisitions tried at that moment
    ),
    max_size=60,
)


@given(
    rate=st.floats(min_value=0, max_value=600, allow_nan=False),
    burst=st.integers(min_value=1, max_value=20),
    steps=steps,
)
def test_never_more_than_burst_plus_rate_times_elapsed(
    rate: float, burst: int, steps: list[tuple[float, int]]
) -> None:
    clock = FakeClock()
    start = clock.now
    bucket = TokenBucket(rate_per_minute=rate, burst=burst, clock=clock)
    granted = 0
    for advance, attempts in steps:
        clock.now += advance
        granted += sum(bucket.try_acquire() for _ in range(attempts))
        allowed = burst + rate * (clock.now - start) / 60.0
        assert granted <= allowed + 1e-6  # slack for float rounding, far below one send


@given(
    rate=st.floats(min_value=0.01, max_value=600, allow_nan=False),
    burst=st.integers(min_value=1, max_value=5),
    drained=st.integers(min_value=0, max_value=10),
)
def test_waiting_the_advertised_time_is_enough(rate: float, burst: int, drained: int) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_minute=rate, burst=burst, clock=clock)
    for _ in range(drained):
        bucket.try_acquire()
    clock.now += bucket.seconds_until_available()
    assert bucket.try_acquire()
