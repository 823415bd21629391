"""Retention: compaction keeps the fold of every run and forgets only superseded history."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, delete, func, select
from typer.testing import CliRunner

from spyagency.cli import app
from spyagency.domain.facts import Fact, FirstConditionSafeRun, RunInfo, StreamDone
from spyagency.domain.knowledge import FactTable, Knowledge, fold
from spyagency.domain.observation import Observation
from spyagency.domain.states import Source, Verdict
from spyagency.store import Store
from spyagency.store.retention import compact, retention_cutoff, superseded_ids
from spyagency.store.schema import event, observation, observation_summary, run_state
from tests.store.builders import assessment
from tests.store.facts_strategy import MOMENTS, facts

NOW = datetime(2026, 11, 1, tzinfo=UTC)
OLD = NOW - timedelta(days=200)
CUTOFF = NOW - timedelta(days=90)


def seen(fact: Fact, days_after_old: float, source: Source = Source.TIER0) -> Observation:
    return Observation(
        source=source,
        observed_at=OLD + timedelta(days=days_after_old),
        fact=fact,
        raw=f"raw of {fact!r}",
    )


def stream(run: int, done: bool, stream_name: str = "Express") -> StreamDone:
    return StreamDone(run=run, stream=stream_name, done=done)


def info(run: int, stop_hour: int | None) -> RunInfo:
    stop = OLD + timedelta(hours=stop_hour) if stop_hour is not None else None
    return RunInfo(run=run, start=OLD, stop=stop)


def history(run: int, days: float = 0) -> list[Observation]:
    """Seven observations of three keys: four of them superseded (two per source)."""
    return [
        seen(info(run, None), days + 0.0, Source.OMS),
        seen(stream(run, False), days + 0.1),
        seen(info(run, 1), days + 0.2, Source.OMS),
        seen(stream(run, False, "ExpressCosmics"), days + 0.3),
        seen(stream(run, True), days + 0.4),
        seen(info(run, 2), days + 0.5, Source.OMS),
        seen(stream(run, True), days + 0.6),  # same fact seen again later: the later one wins
    ]


def add(store: Store, observations: list[Observation], verdicts: dict[int, Verdict]) -> None:
    with store.transaction() as tx:
        tx.observations.add_many(observations)
        for run, verdict in verdicts.items():
            tx.states.save_run(assessment(run, verdict), NOW)


def stored_fold(store: Store) -> Knowledge:
    with store.read() as tx:
        return fold(tx.observations.iter_all())


def winners(knowledge: Knowledge) -> dict[int | None, dict[object, Observation]]:
    """Everything the fold keeps, the raw evidence and ids included."""
    kept: dict[int | None, dict[object, Observation]] = {
        run: dict(known.table.latest) for run, known in knowledge.runs.items()
    }
    kept[None] = dict(knowledge.system.table.latest)
    return kept


def count(store: Store, table: object) -> int:
    with store.read() as tx:
        return int(tx.connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_compaction_keeps_the_fold_of_a_finished_run_and_drops_the_rest(store: Store) -> None:
    add(store, history(1), {1: Verdict.RELEASED})
    before = stored_fold(store)

    report = compact(store, older_than=CUTOFF, now=NOW)

    assert report.runs == [1]
    assert report.observations_deleted == 4
    assert winners(stored_fold(store)) == winners(before)
    assert count(store, observation) == 3


def test_summaries_add_up_to_what_was_deleted_per_source(store: Store) -> None:
    add(store, history(1), {1: Verdict.MISSED})
    compact(store, older_than=CUTOFF, now=NOW)

    with store.read() as tx:
        summaries = tx.retention.summaries_for_run(1)
        total = tx.retention.dropped_total()
    by_source = {s.source: s for s in summaries}
    assert set(by_source) == {Source.OMS, Source.TIER0}
    oms, tier0 = by_source[Source.OMS], by_source[Source.TIER0]
    assert (oms.dropped, oms.first_observed_at, oms.last_observed_at) == (
        2,
        OLD,
        OLD + timedelta(days=0.2),
    )
    assert (tier0.dropped, tier0.first_observed_at, tier0.last_observed_at) == (
        2,
        OLD + timedelta(days=0.1),
        OLD + timedelta(days=0.4),
    )
    assert oms.compacted_at == NOW
    assert total == 4


def test_open_young_and_unjudged_runs_and_system_facts_are_untouched(store: Store) -> None:
    young_days = (NOW - OLD).days - 10  # newest observation ten days ago
    system = [
        seen(FirstConditionSafeRun(1), 0, Source.TIER0),
        seen(FirstConditionSafeRun(2), 1, Source.TIER0),
    ]
    observations = history(2) + history(3, young_days) + history(4) + history(5) + system
    add(store, observations, {2: Verdict.PENDING, 3: Verdict.RELEASED, 5: Verdict.READY})
    before = count(store, observation)

    report = compact(store, older_than=CUTOFF, now=NOW)

    assert report.runs == []
    assert report.observations_deleted == 0
    assert count(store, observation) == before
    assert count(store, observation_summary) == 0


def test_a_run_is_compacted_only_when_its_newest_observation_is_old_enough(
    store: Store,
) -> None:
    # The last observation is young: the old superseded ones wait until it ages too.
    add(store, [*history(1), seen(info(1, 3), 150, Source.OMS)], {1: Verdict.RELEASED})
    assert compact(store, older_than=CUTOFF, now=NOW).runs == []
    later = compact(store, older_than=NOW, now=NOW)
    assert later.runs == [1]
    assert later.observations_deleted == 5


def test_compacting_again_changes_nothing_and_later_history_adds_to_the_summary(
    store: Store,
) -> None:
    add(store, history(1), {1: Verdict.RELEASED})
    compact(store, older_than=CUTOFF, now=NOW)
    after_first = winners(stored_fold(store))

    again = compact(store, older_than=CUTOFF, now=NOW)
    assert (again.runs, again.observations_deleted) == ([], 0)
    assert winners(stored_fold(store)) == after_first

    # New history of the run (a later correction) supersedes a kept observation.
    add(store, [seen(info(1, 9), 1.0, Source.OMS)], {})
    third = compact(store, older_than=CUTOFF, now=NOW + timedelta(days=1))
    assert third.observations_deleted == 1
    with store.read() as tx:
        oms = next(s for s in tx.retention.summaries_for_run(1) if s.source is Source.OMS)
    assert oms.dropped == 3
    assert oms.first_observed_at == OLD
    assert oms.last_observed_at == OLD + timedelta(days=0.5)
    assert oms.compacted_at == NOW + timedelta(days=1)


def test_many_runs_are_compacted_in_small_transactions(store: Store) -> None:
    runs = list(range(10, 17))
    add(
        store,
        [o for run in runs for o in history(run)],
        dict.fromkeys(runs, Verdict.RELEASED),
    )
    report = compact(store, older_than=CUTOFF, batch=2, now=NOW)
    assert report.runs == runs
    assert report.observations_deleted == 4 * len(runs)
    assert report.transactions >= len(runs) // 2 + 1
    assert count(store, observation) == 3 * len(runs)


def test_the_newest_observation_row_is_kept_even_when_superseded(store: Store) -> None:
    # SQLite would give its id out again, and readers resume from ids.
    late_but_older = seen(info(1, 5), -1, Source.OMS)
    add(store, [*history(1), late_but_older], {1: Verdict.RELEASED})
    with store.read() as tx:
        newest = tx.observations.latest_id()
    compact(store, older_than=CUTOFF, now=NOW)
    with store.read() as tx:
        assert tx.observations.latest_id() == newest
        assert tx.observations.count() == 4


def test_old_events_go_but_the_newest_stays_and_ids_never_come_back(store: Store) -> None:
    with store.transaction() as tx:
        for day in range(5):
            tx.events.append(OLD + timedelta(days=day), "verdict", run=1, old="a", new="b")
        tx.events.append(NOW, "verdict", run=2, old="a", new="b")
        newest_young = tx.events.latest_id()
        tx.events.append(OLD, "verdict", run=3, old="a", new="b")  # the newest row, but old
        newest = tx.events.latest_id()

    report = compact(store, older_than=CUTOFF, event_batch=2, now=NOW)

    assert report.events_deleted == 5
    with store.read() as tx:
        kept = tx.events.since(0)
    assert [e.id for e in kept] == [newest_young, newest]
    with store.transaction() as tx:
        assert tx.events.append(NOW, "verdict", run=4) > newest
    with store.read() as tx:
        # A stream resuming from a deleted id gets everything that is kept, in order.
        assert [e.id for e in tx.events.since(1)][:2] == [newest_young, newest]


def test_the_fold_keeps_the_first_of_two_equal_observations() -> None:
    twins = [
        dataclasses.replace(seen(stream(1, True), 0), id=7),
        dataclasses.replace(seen(stream(1, True), 0, Source.WMSTATS), id=9),
        dataclasses.replace(seen(stream(1, False), 0), id=8),
    ]
    table = FactTable()
    for item in twins:
        table.add(item)
    assert superseded_ids(twins) == [9, 8]
    assert next(iter(table.latest.values())).id == 7


def test_retention_cutoff() -> None:
    assert retention_cutoff(NOW, 0) is None
    assert retention_cutoff(NOW, 90) == CUTOFF


def _on_run(fact: Fact, run: int) -> Fact:
    return dataclasses.replace(fact, run=run) if hasattr(fact, "run") else fact


observation_sets = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=7),  # index of a base fact, so keys repeat
        st.sampled_from([OLD, OLD + timedelta(hours=1), OLD + timedelta(hours=2)]) | MOMENTS,
        st.sampled_from(list(Source)),
    ),
    max_size=40,
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    base=st.lists(st.tuples(facts, st.integers(min_value=1, max_value=3)), min_size=8, max_size=8),
    picks=observation_sets,
    final=st.sets(st.integers(min_value=1, max_value=3)),
)
def test_compaction_never_changes_the_fold_property(
    store: Store,
    base: list[tuple[Fact, int]],
    picks: list[tuple[int, datetime, Source]],
    final: set[int],
) -> None:
    with store.transaction() as tx:
        for table in (observation, observation_summary, run_state, event):
            tx.connection.execute(delete(table))
    facts_on_runs = [_on_run(fact, run) for fact, run in base]
    observations = [
        Observation(source=source, observed_at=at, fact=facts_on_runs[index], raw=str(index))
        for index, at, source in picks
    ]
    verdicts = {run: Verdict.RELEASED if run in final else Verdict.BLOCKED for run in (1, 2, 3)}
    add(store, observations, verdicts)
    before = stored_fold(store)
    stored = count(store, observation)

    report = compact(store, older_than=datetime(2101, 1, 1, tzinfo=UTC), batch=1, now=NOW)

    assert winners(stored_fold(store)) == winners(before)
    assert count(store, observation) == stored - report.observations_deleted
    with store.read() as tx:
        summaries = [s for run in (1, 2, 3) for s in tx.retention.summaries_for_run(run)]
    assert sum(s.dropped for s in summaries) == report.observations_deleted
    assert {s.run for s in summaries} <= final
    # Idempotent: nothing more to delete (a run whose only superseded observation is the
    # table's newest row stays a candidate, and that row stays).
    again = compact(store, older_than=datetime(2101, 1, 1, tzinfo=UTC), now=NOW)
    assert again.observations_deleted == 0
    with store.read() as tx:
        assert set(again.runs) <= {_run_of_newest(tx.connection)}


def _run_of_newest(connection: Connection) -> int | None:
    newest = select(func.max(observation.c.id)).scalar_subquery()
    found = connection.execute(select(observation.c.run).where(observation.c.id == newest))
    run = found.scalar_one_or_none()
    return int(run) if run is not None else None


def test_db_compact_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'agency.db'}"
    config = tmp_path / "agency.toml"
    config.write_text(f'[database]\nurl = "{url}"\n[retention]\nmax_age_days = 0\n')
    runner = CliRunner()
    result = runner.invoke(app, ["db", "compact", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "keeping everything" in result.output

    from spyagency.store import build_engine, upgrade

    upgrade(url)
    engine = build_engine(url)
    try:
        add(Store(engine), history(1), {1: Verdict.RELEASED})
    finally:
        engine.dispose()
    result = runner.invoke(app, ["db", "compact", "-c", str(config), "--older-than-days", "30"])
    assert result.exit_code == 0, result.output
    assert "compacted 1 run(s)" in result.output
    assert "4 observation(s)" in result.output
