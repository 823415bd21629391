from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spyagency.domain.iov import (
    Iov,
    TimeType,
    covering_iovs,
    effective_iov,
    first_since_of_run,
    lumi_since,
    run_of_since,
    since_text,
    split_lumi_since,
    split_time_since,
    time_since,
)

runs = st.integers(min_value=1, max_value=2**32 - 1)
lumis = st.integers(min_value=0, max_value=2**32 - 1)
T = datetime(2026, 1, 1, tzinfo=UTC)


@given(runs, lumis)
def test_lumi_since_round_trips(run: int, lumi: int) -> None:
    assert split_lumi_since(lumi_since(run, lumi)) == (run, lumi)


@given(runs, lumis, lumis)
def test_lumi_sinces_order_by_run_then_lumi(run: int, a: int, b: int) -> None:
    assert (lumi_since(run, a) < lumi_since(run, b)) == (a < b)
    if run > 1:
        assert lumi_since(run - 1, 2**32 - 1) < lumi_since(run, 0)


def test_lumi_since_matches_the_condb_encoding() -> None:
    assert lumi_since(380000, 1) == 380000 * 2**32 + 1
    assert run_of_since(lumi_since(380000, 17), TimeType.LUMI) == 380000


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    )
)
def test_time_since_round_trips_to_the_microsecond(moment: datetime) -> None:
    assert split_time_since(time_since(moment)) == moment


def test_out_of_range_values_are_refused() -> None:
    with pytest.raises(ValueError):
        lumi_since(2**32, 1)
    with pytest.raises(ValueError):
        lumi_since(1, -1)
    with pytest.raises(ValueError):
        first_since_of_run(5, TimeType.TIME)


def test_time_type_parses_any_case_and_names_the_bad_value() -> None:
    assert TimeType.parse("lumi") is TimeType.LUMI
    with pytest.raises(ValueError, match="Hours"):
        TimeType.parse("Hours")


def test_latest_insertion_wins_on_the_same_since() -> None:
    old = Iov(100, T, "a")
    new = Iov(100, T + timedelta(hours=1), "b")
    assert effective_iov([new, old], 150) == new
    assert effective_iov([old, new], 100) == new
    assert effective_iov([old], 99) is None


@given(
    st.lists(st.tuples(st.integers(1, 50), st.integers(0, 5)), min_size=1, max_size=20),
    st.integers(1, 60),
)
def test_effective_iov_is_the_greatest_since_not_above_the_point(
    rows: list[tuple[int, int]], point: int
) -> None:
    iovs = [Iov(since, T + timedelta(minutes=m), f"h{since}-{m}") for since, m in rows]
    found = effective_iov(iovs, point)
    eligible = [i for i in iovs if i.since <= point]
    if not eligible:
        assert found is None
        return
    assert found is not None
    assert found.since == max(i.since for i in eligible)
    assert found.insertion_time == max(i.insertion_time for i in eligible if i.since == found.since)


def test_lumi_coverage_includes_the_iov_open_at_the_start_and_those_inside() -> None:
    before = Iov(lumi_since(99, 5), T, "before")
    inside = Iov(lumi_since(100, 40), T, "inside")
    after = Iov(lumi_since(101, 1), T, "after")
    assert covering_iovs([before, inside, after], 100, TimeType.LUMI) == [before, inside]
    assert covering_iovs([after], 100, TimeType.LUMI) == []


def test_a_since_reads_as_people_write_it() -> None:
    assert since_text(lumi_since(380000, 12), TimeType.LUMI) == "380000:12"
    assert since_text(380000, TimeType.RUN) == "380000"
    assert since_text(1780272000 << 32, TimeType.TIME) == "2026-06-01 00:00:00Z"
    assert since_text(2**63 - 1, TimeType.TIME) == str(2**63 - 1)


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_a_lumi_since_text_names_its_run_and_lumi(run: int, lumi: int) -> None:
    assert since_text(lumi_since(run, lumi), TimeType.LUMI) == f"{run}:{lumi}"
