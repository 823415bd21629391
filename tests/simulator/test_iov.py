"""IOV since encoding (CondCore/CondDB Time.cc)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spyagency.simulator.iov import lumi_since, run_of_since, split_lumi_since, time_since

runs = st.integers(min_value=1, max_value=2**32 - 1)
lumis = st.integers(min_value=0, max_value=2**32 - 1)


@given(runs, lumis)
def test_lumi_since_round_trips(run: int, lumi: int) -> None:
    since = lumi_since(run, lumi)
    assert since == (run << 32) | lumi
    assert split_lumi_since(since) == (run, lumi)
    assert run_of_since(since, "lumi") == run


@given(st.integers(min_value=1, max_value=2**32 - 2), lumis, lumis)
def test_lumi_since_orders_like_run_then_lumi(run: int, a: int, b: int) -> None:
    assert (lumi_since(run, a) < lumi_since(run, b)) == (a < b)
    assert lumi_since(run, a) < lumi_since(run + 1, 0)


def test_examples() -> None:
    assert lumi_since(380000, 1) == 380000 * 2**32 + 1
    assert run_of_since(380000, "run") == 380000
    assert time_since(1_700_000_000, 5) == (1_700_000_000 << 32) | 5
    with pytest.raises(ValueError):
        lumi_since(2**32, 1)
