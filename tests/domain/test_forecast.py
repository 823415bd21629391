"""The forecast: ordered, conditioned on the step under way, deterministic, honest when it
cannot say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from spyagency.domain.forecast import RunProgress, WorkflowProgress, forecast_run
from spyagency.domain.forecast_history import MIN_SAMPLES, StepHistory, StepSample
from spyagency.domain.states import WorkflowState

T0 = datetime(2026, 5, 1, tzinfo=UTC)
HOUR = 3600.0
STOP = T0 + timedelta(days=30)

durations = st.floats(min_value=60.0, max_value=40 * HOUR, allow_nan=False)
sample_steps = st.tuples(durations, durations, durations)


def history_of(workflow: str, steps: list[tuple[float, float, float]]) -> list[StepSample]:
    """Samples whose harvest, upload and proof follow one another by the given gaps."""
    samples = []
    for index, (to_harvest, to_marker, to_proof) in enumerate(steps):
        samples.append(
            StepSample(
                run=1000 + index,
                workflow=workflow,
                run_class="collisions",
                stop=T0 + timedelta(hours=index),
                harvest_s=to_harvest,
                marker_s=to_harvest + to_marker,
                proof_s=to_harvest + to_marker + to_proof,
            )
        )
    return samples


def waiting(workflow: str, state: WorkflowState, started: datetime) -> WorkflowProgress:
    return WorkflowProgress(workflow, state, started)


def run_of(*workflows: WorkflowProgress) -> RunProgress:
    return RunProgress(run=5000, run_class="collisions", stop=STOP, workflows=workflows)


histories = st.lists(sample_steps, min_size=MIN_SAMPLES, max_size=60)


@settings(max_examples=60, deadline=None)
@given(histories, histories, st.floats(min_value=0, max_value=20 * HOUR))
def test_the_interval_is_ordered_and_never_before_now(
    first: list[tuple[float, float, float]],
    second: list[tuple[float, float, float]],
    elapsed: float,
) -> None:
    history = StepHistory([*history_of("A", first), *history_of("B", second)])
    now = STOP + timedelta(seconds=elapsed)
    progress = run_of(
        waiting("A", WorkflowState.WAITING_EXPRESS, STOP),
        waiting("B", WorkflowState.HARVESTING, STOP),
    )
    forecast = forecast_run(progress, history, now)
    if not forecast.known:
        assert forecast.median is None
        assert forecast.reason
        return
    assert forecast.low is not None and forecast.median is not None and forecast.high is not None
    assert now < forecast.low <= forecast.median <= forecast.high
    for item in forecast.workflows:
        assert item.low is not None and item.high is not None
        # The run ends with its last workflow: never before any one of them is likely done.
        assert item.low <= forecast.high


@settings(max_examples=60, deadline=None)
@given(histories, st.lists(st.floats(min_value=0, max_value=30 * HOUR), min_size=2, max_size=6))
def test_waiting_on_the_last_step_only_moves_the_forecast_later(
    steps: list[tuple[float, float, float]], waits: list[float]
) -> None:
    """A workflow waiting for its IOV: time passing without news can only push it back."""
    history = StepHistory(history_of("A", steps))
    marker = STOP + timedelta(hours=1)
    progress = run_of(waiting("A", WorkflowState.UPLOAD_ATTEMPTED, marker))
    previous = None
    for wait in sorted(waits):
        forecast = forecast_run(progress, history, marker + timedelta(seconds=wait))
        if not forecast.known:
            break  # longer than nearly every past upload: and it stays so
        assert forecast.low is not None and forecast.median is not None
        assert forecast.high is not None
        current = (forecast.low, forecast.median, forecast.high)
        if previous is not None:
            assert all(later >= earlier for later, earlier in zip(current, previous, strict=True))
        previous = current


@settings(max_examples=40, deadline=None)
@given(histories, st.lists(st.floats(min_value=0, max_value=40 * HOUR), min_size=1, max_size=5))
def test_a_run_whose_workflows_are_all_proven_is_forecast_at_its_proof(
    steps: list[tuple[float, float, float]], proofs: list[float]
) -> None:
    history = StepHistory(history_of("A", steps))
    workflows = [
        WorkflowProgress(
            f"W{index}", WorkflowState.IN_DB, proven_at=STOP + timedelta(seconds=offset)
        )
        for index, offset in enumerate(proofs)
    ]
    proof = STOP + timedelta(seconds=max(proofs))
    forecast = forecast_run(run_of(*workflows), history, proof + timedelta(hours=2))
    assert (forecast.low, forecast.median, forecast.high) == (proof, proof, proof)


@settings(max_examples=30, deadline=None)
@given(histories, st.floats(min_value=0, max_value=10 * HOUR), st.randoms())
def test_the_forecast_is_deterministic_whatever_the_order_of_its_history(
    steps: list[tuple[float, float, float]], elapsed: float, shuffle: object
) -> None:
    samples = history_of("A", steps)
    shuffled = list(samples)
    shuffle.shuffle(shuffled)  # type: ignore[attr-defined]
    progress = run_of(waiting("A", WorkflowState.HARVESTED, STOP + timedelta(hours=2)))
    now = STOP + timedelta(hours=2, seconds=elapsed)
    assert forecast_run(progress, StepHistory(samples), now) == forecast_run(
        progress, StepHistory(shuffled), now
    )


def test_too_little_history_is_not_known_rather_than_a_guess() -> None:
    history = StepHistory(history_of("A", [(HOUR, HOUR, HOUR)] * (MIN_SAMPLES - 1)))
    forecast = forecast_run(
        run_of(waiting("A", WorkflowState.WAITING_EXPRESS, STOP)), history, STOP
    )
    assert not forecast.known
    assert forecast.reason == (
        f"too little history for A: {MIN_SAMPLES - 1} proven past run(s), {MIN_SAMPLES} needed"
    )


def test_a_failed_workflow_leaves_the_run_to_an_expert() -> None:
    history = StepHistory(history_of("A", [(HOUR, HOUR, HOUR)] * MIN_SAMPLES))
    progress = run_of(
        waiting("A", WorkflowState.WAITING_EXPRESS, STOP),
        WorkflowProgress("B", WorkflowState.UPLOAD_FAILED),
    )
    forecast = forecast_run(progress, history, STOP)
    assert forecast.reason == "needs an expert first: B upload_failed"


def test_a_step_longer_than_every_past_one_is_not_known() -> None:
    history = StepHistory(history_of("A", [(HOUR, HOUR, HOUR)] * MIN_SAMPLES))
    progress = run_of(waiting("A", WorkflowState.UPLOAD_ATTEMPTED, STOP))
    assert forecast_run(progress, history, STOP + timedelta(minutes=30)).known
    late = forecast_run(progress, history, STOP + timedelta(hours=2))
    assert late.reason == "A has been at its step longer than all but 0 of 20 past runs"


def test_the_quantiles_of_two_workflows_are_those_of_the_later_one() -> None:
    """Two workflows with the same history: the run's median is the median of the later of
    two draws, above either workflow's own median."""
    steps = [(0.0, 0.0, float(hours) * HOUR) for hours in range(1, 21)]
    history = StepHistory([*history_of("A", steps), *history_of("B", steps)])
    progress = run_of(
        waiting("A", WorkflowState.UPLOAD_ATTEMPTED, STOP),
        waiting("B", WorkflowState.UPLOAD_ATTEMPTED, STOP),
    )
    forecast = forecast_run(progress, history, STOP)
    # P(max <= k h) = (k / 20)^2: >= 0.5 first at k = 15, >= 0.1 at 7, >= 0.9 at 19.
    assert forecast.median == STOP + timedelta(hours=15)
    assert forecast.low == STOP + timedelta(hours=7)
    assert forecast.high == STOP + timedelta(hours=19)
    alone = forecast.workflows[0]
    assert alone.median == STOP + timedelta(hours=10)


def test_failure_rates_add_up_to_the_run_failure_chance() -> None:
    steps = [(HOUR, HOUR, HOUR)] * 30
    failed = [
        StepSample(9000 + i, "A", "collisions", T0, HOUR, None, None, WorkflowState.UPLOAD_FAILED)
        for i in range(10)
    ]
    history = StepHistory([*history_of("A", steps), *failed, *history_of("B", steps)])
    progress = run_of(
        waiting("A", WorkflowState.WAITING_EXPRESS, STOP),
        waiting("B", WorkflowState.WAITING_EXPRESS, STOP),
    )
    forecast = forecast_run(progress, history, STOP)
    assert forecast.failure_chance == 10 / 40


def test_samples_older_than_the_window_are_forgotten() -> None:
    history = StepHistory(history_of("A", [(HOUR, HOUR, HOUR)] * MIN_SAMPLES))
    progress = run_of(waiting("A", WorkflowState.WAITING_EXPRESS, STOP))
    assert forecast_run(progress, history, STOP).known
    later = T0 + timedelta(days=200)
    moved = RunProgress(5000, "collisions", later, progress.workflows[:0])
    assert forecast_run(moved, history, later).reason == "no calibration to wait for"
    assert not forecast_run(
        RunProgress(5000, "collisions", later, (waiting("A", WorkflowState.HARVESTING, later),)),
        history,
        later,
    ).known
    assert len(history) == 0


def test_workflows_waiting_for_one_harvest_job_share_its_time() -> None:
    """Two workflows harvested by the same job, then proven at once: the run is done when
    that job is, so its median is theirs; taken as independent it would be later."""
    steps = [(float(hours) * HOUR, 0.0, 0.0) for hours in range(1, 41)]
    history = StepHistory([*history_of("A", steps), *history_of("B", steps)])
    shared = run_of(
        WorkflowProgress("A", WorkflowState.WAITING_EXPRESS, STOP, group="Express"),
        WorkflowProgress("B", WorkflowState.WAITING_EXPRESS, STOP, group="Express"),
    )
    apart = run_of(
        WorkflowProgress("A", WorkflowState.WAITING_EXPRESS, STOP, group="Express"),
        WorkflowProgress("B", WorkflowState.WAITING_EXPRESS, STOP, group="Calibration"),
    )
    together = forecast_run(shared, history, STOP)
    separate = forecast_run(apart, history, STOP)
    assert together.median is not None and separate.median is not None
    alone = together.workflows[0].median
    assert alone is not None
    assert abs(together.median - alone) <= timedelta(hours=2)
    assert separate.median - together.median >= timedelta(hours=5)
