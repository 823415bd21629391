from __future__ import annotations

from dataclasses import replace
from datetime import UTC

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spyagency.domain.facts import FirstConditionSafeRun, PromptRecoSwitch, RunInfo, StreamDone
from spyagency.domain.observation import Observation
from spyagency.domain.states import Source, Verdict
from spyagency.store import Store

from .builders import T0, assessment, at
from .facts_strategy import observations


def seen(fact: object, minutes: float = 0, raw: str = "") -> Observation:
    return Observation(Source.TIER0, at(minutes), fact, raw)  # type: ignore[arg-type]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(batch=st.lists(observations, min_size=1, max_size=8))
def test_observations_round_trip_exactly(store: Store, batch: list[Observation]) -> None:
    with store.transaction() as tx:
        ids = tx.observations.add_many(batch)
    assert len(set(ids)) == len(batch)
    with store.read() as tx:
        stored = {item.id: item for item in tx.observations.after(min(ids) - 1, len(batch))}
    assert [stored[i] for i in ids] == [
        replace(item, id=i) for item, i in zip(batch, ids, strict=True)
    ]
    for item in stored.values():
        assert item.observed_at.tzinfo is UTC
        assert item.fact_time is None or item.fact_time.tzinfo is UTC


def test_ids_come_back_in_input_order_and_ascend(store: Store) -> None:
    batch = [seen(StreamDone(run, "Express", True), minutes=run) for run in range(1, 300)]
    with store.transaction() as tx:
        ids = tx.observations.add_many(batch)
        more = tx.observations.add_many([seen(StreamDone(999, "Express", False))])
    assert ids == sorted(ids)
    assert more[0] > ids[-1]
    with store.read() as tx:
        assert [o.run for o in tx.observations.after(0, 1000)] == [*range(1, 300), 999]
        assert tx.observations.count() == 300
        assert tx.observations.latest_id() == more[0]


def test_appending_without_ids_stores_the_same_in_input_order(store: Store) -> None:
    batch = [seen(StreamDone(run, "Express", run % 2 == 0), minutes=run) for run in range(1, 50)]
    with store.transaction() as tx:
        tx.observations.append_many(batch)
        tx.observations.append_many([])
    with store.read() as tx:
        stored = tx.observations.after(0, 1000)
    assert [replace(o, id=None) for o in stored] == batch
    assert [o.id for o in stored] == sorted(o.id for o in stored)


def test_an_empty_batch_writes_nothing(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.observations.add_many([]) == []
        assert tx.observations.count() == 0


def test_iter_all_pages_through_everything_in_id_order(store: Store) -> None:
    batch = [seen(StreamDone(run % 7, f"s{run}", True)) for run in range(23)]
    with store.transaction() as tx:
        ids = tx.observations.add_many(batch)
    with store.read() as tx:
        assert [o.id for o in tx.observations.iter_all(batch=5)] == ids
        assert [o.id for o in tx.observations.iter_all(batch=23)] == ids


def test_for_runs_system_facts_and_timeline(store: Store) -> None:
    late = seen(RunInfo(1, T0, None), minutes=30)
    early = seen(StreamDone(1, "Express", True), minutes=10)
    other = seen(RunInfo(2, T0, None), minutes=5)
    system = [seen(FirstConditionSafeRun(1), 1), seen(PromptRecoSwitch(enabled=True), 2)]
    with store.transaction() as tx:
        tx.observations.add_many([late, early, other, *system])
    with store.read() as tx:
        assert [o.fact for o in tx.observations.for_runs([1])] == [late.fact, early.fact]
        assert len(tx.observations.for_runs(range(0, 2000))) == 3
        assert tx.observations.for_runs([]) == []
        assert [o.fact for o in tx.observations.system_facts()] == [s.fact for s in system]
        assert [o.fact for o in tx.observations.timeline(1)] == [early.fact, late.fact]


def test_latest_for_key_finds_the_newest_observation_of_a_fact(store: Store) -> None:
    with store.transaction() as tx:
        tx.observations.add_many(
            [seen(FirstConditionSafeRun(5)), seen(FirstConditionSafeRun(9), minutes=1)]
        )
    with store.read() as tx:
        latest = tx.observations.latest_for_key(FirstConditionSafeRun(0).key())
        assert latest is not None and latest.fact == FirstConditionSafeRun(9)
        assert tx.observations.latest_for_key(("nothing",)) is None


def test_nul_in_raw_text_is_kept_as_a_replacement_character(store: Store) -> None:
    with store.transaction() as tx:
        tx.observations.add(seen(FirstConditionSafeRun(1), raw='{"a": "\x00"}'))
    with store.read() as tx:
        assert [o.raw for o in tx.observations.iter_all()] == ['{"a": "\ufffd"}']


def test_start_up_reads_open_runs_and_system_facts_but_not_final_runs(store: Store) -> None:
    batch = [seen(RunInfo(run, at(run), at(run + 1)), run) for run in (1, 2, 3)]
    batch.append(seen(FirstConditionSafeRun(2), 5))
    with store.transaction() as tx:
        tx.observations.add_many(batch)
        tx.states.save_run(assessment(1, Verdict.RELEASED), at(9))
        tx.states.save_run(assessment(2, Verdict.READY), at(9))
        tx.states.save_run(assessment(3, Verdict.MISSED), at(9))
    with store.read() as tx:
        kept = list(tx.observations.iter_unfinished(batch=1))
        highest = tx.observations.highest_run()
    assert [(o.run, type(o.fact).__name__) for o in kept] == [
        (2, "RunInfo"),
        (None, "FirstConditionSafeRun"),
    ]
    assert highest == 3, "the highest run counts evicted runs too"
