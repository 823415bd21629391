"""The numbers behind the plots: histogram bins, box-plot quartiles, weekly release delays and
a run's state bars, checked on numbers (the browser only draws them)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from spyagency.domain.policy import Policy
from spyagency.web.plot_answers import early_before
from spyagency.web.plots.binning import NICE_WIDTHS, histogram
from spyagency.web.plots.five_numbers import five_numbers
from spyagency.web.plots.state_bars import CurrentState, StateBar, StateChange, state_bars
from spyagency.web.plots.weekly import Release, releases_per_week

HOURS = st.floats(min_value=-1e4, max_value=1e5, allow_nan=False, allow_infinity=False)
T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)  # a Monday


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@given(st.lists(HOURS, min_size=1, max_size=300))
def test_every_value_falls_in_exactly_one_bin(values: list[float]) -> None:
    result = histogram(values)
    edges = result.edges
    assert len(edges) == len(result.counts) + 1
    assert all(low < high for low, high in pairwise(edges))
    for value in values:
        holding = [i for i in range(len(result.counts)) if edges[i] <= value < edges[i + 1]]
        assert len(holding) == 1
    assert sum(result.counts) == len(values)
    assert edges[0] <= min(values) and max(values) < edges[-1]


@given(st.lists(HOURS, min_size=1, max_size=300))
def test_bins_are_even_nice_and_start_on_a_multiple_of_their_width(values: list[float]) -> None:
    result = histogram(values)
    width = result.width
    assert width is not None
    assert width in NICE_WIDTHS or width % NICE_WIDTHS[-1] == 0
    assert all(high - low == width for low, high in pairwise(result.edges))
    assert (result.edges[0] / width).is_integer()
    # No empty bin at either end: the bins cover the data, not more.
    assert result.counts[0] > 0 and result.counts[-1] > 0


def test_five_early_releases_get_half_hour_bins_not_one_bar() -> None:
    result = histogram([1.7, 2.1, 2.6, 3.0, 3.4])
    assert result.edges == [1.5, 2.0, 2.5, 3.0, 3.5]
    assert result.counts == [1, 1, 1, 2]


def test_a_value_on_an_edge_counts_in_the_bin_it_starts() -> None:
    result = histogram([0.0, 6.0, 12.0, 48.0])
    assert result.edges[-1] > 48.0
    assert sum(result.counts) == 4
    assert result.counts[-1] == 1  # 48 h alone in the last bin, which ends after it


def test_equal_values_get_one_bin_and_no_values_none() -> None:
    assert histogram([47.9, 47.9]).edges == [47.0, 48.0]
    assert histogram([]).edges == [] and histogram([]).counts == []


@given(st.lists(HOURS, min_size=1, max_size=200))
def test_five_numbers_ascend_within_the_data(values: list[float]) -> None:
    numbers = five_numbers(values)
    assert numbers is not None
    assert numbers.count == len(values)
    assert numbers.minimum == min(values) and numbers.maximum == max(values)
    assert numbers.minimum <= numbers.q1 <= numbers.median <= numbers.q3 <= numbers.maximum


def test_five_numbers_interpolate_quartiles() -> None:
    numbers = five_numbers([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    assert numbers is not None
    assert (numbers.minimum, numbers.q1, numbers.median, numbers.q3, numbers.maximum) == (
        1.0,
        3.0,
        5.0,
        7.0,
        9.0,
    )
    assert five_numbers([4.0]) is not None
    assert five_numbers([]) is None


def test_releases_are_grouped_by_the_week_of_their_stop() -> None:
    releases = [
        Release(1, at(0), at(3)),  # Monday
        Release(2, at(24 * 6 + 15), at(24 * 6 + 15 + 48)),  # Sunday night, on the timer
        Release(3, at(24 * 7), at(24 * 7 + 5)),  # the next Monday
    ]
    weeks = releases_per_week(releases, early_before=timedelta(hours=47, minutes=55))
    assert [week.week_start for week in weeks] == [date(2026, 6, 1), date(2026, 6, 8)]
    first, second = weeks
    assert (first.released, first.early, first.median_hours, first.max_hours) == (
        2,
        1,
        25.5,
        48.0,
    )
    assert (second.released, second.early, second.median_hours) == (1, 1, 5.0)


def test_state_bars_follow_the_changes_and_end_now() -> None:
    changes = [
        StateChange(at(1), "Gains", None, "waiting_express"),
        StateChange(at(1), "Bad", None, "not_expected"),
        StateChange(at(3), "Gains", "waiting_express", "harvesting"),
        StateChange(at(5), "Gains", "harvesting", "in_db"),
    ]
    current = [CurrentState("Bad", "not_expected", at(1)), CurrentState("Gains", "in_db", at(5))]
    assert state_bars(changes, current, end=at(8)) == [
        StateBar("Gains", "waiting_express", at(1), at(3)),
        StateBar("Gains", "harvesting", at(3), at(5)),
        StateBar("Gains", "in_db", at(5), at(8)),
    ]


def test_a_workflow_whose_changes_were_compacted_shows_its_current_state() -> None:
    bars = state_bars([], [CurrentState("Gains", "in_db", at(5))], end=at(8))
    assert bars == [StateBar("Gains", "in_db", at(5), at(8))]


def test_a_workflow_dropped_from_the_run_ends_its_bar() -> None:
    changes = [
        StateChange(at(1), "Gains", None, "harvesting"),
        StateChange(at(2), "Gains", "harvesting", None),
    ]
    assert state_bars(changes, [], end=at(8)) == [StateBar("Gains", "harvesting", at(1), at(2))]


def test_every_release_on_the_agency_signal_counts_as_early() -> None:
    # The agency can release a run until its lock-in (stop + delay - offset); the timer
    # releases at stop + delay. One rule for the KPI answer and its plots.
    policy = Policy()
    assert policy.lock_in_delay() < early_before(policy) < policy.reco_delay
