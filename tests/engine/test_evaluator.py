"""The evaluator on a real store: news only, signals in run order, retractions, alerts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from spyagency.domain.clock import ManualClock
from spyagency.domain.knowledge import Knowledge
from spyagency.domain.observation import Observation
from spyagency.domain.overrides import Override, OverrideKind
from spyagency.domain.states import HarvestJobState, Source, UploadOutcome, Verdict, WorkflowState
from spyagency.engine.alerts import AlertKeeper
from spyagency.engine.batches import next_health
from spyagency.engine.evaluator import Evaluator
from spyagency.engine.signals import SignalDesk
from spyagency.spies.scope import SourceError, SpyReport
from spyagency.store.database import build_engine
from spyagency.store.leader import Deposed
from spyagency.store.migrations import upgrade
from spyagency.store.uow import Store
from tests.domain.world import T0, Story
from tests.engine.conftest import ALERT_CHANNELS, SIGNAL_CHANNEL, make_evaluator

GAINS = ("SiStripApvGain_pcl", ("SiStripApvGain_PCL_v0_prompt",))


def restarted(evaluator: Evaluator, store: Store) -> Evaluator:
    """A fresh evaluator on the same store and collaborators: what a restart builds."""
    return Evaluator(
        store,
        evaluator.catalogue,
        evaluator.policy,
        evaluator.clock,
        evaluator.signals,
        evaluator.alerts,
    )


def report(source: Source, observations: list[Observation], error: str | None = None) -> SpyReport:
    found = SpyReport(source=source, started_at=T0, observations=observations)
    if error:
        found.errors.append(SourceError(source, T0, error, raw="<html>502</html>"))
    return found


def feed(evaluator: Evaluator, story: Story) -> None:
    """Hand a story's observations to the engine the way spies would: one report per source."""
    by_source: dict[Source, list[Observation]] = {}
    for observation in story.observations:
        by_source.setdefault(observation.source, []).append(observation)
    for source in Source:
        evaluator.ingest(report(source, by_source.get(source, [])))


def gains_run(run: int, proven: bool) -> Story:
    story = Story(run=run).ran(2).express("Express", "PromptCalibProdSiStripGains")
    if proven:
        story.at(3).harvested(*GAINS).marker(*GAINS).at(3.5).iov(GAINS[1][0])
    return story


def signals(store: Store) -> list[tuple[int, str]]:
    with store.read() as tx:
        rows = tx.outbox.list(None, 100)
    return sorted((m.run or 0, m.payload["verdict"]) for m in rows if m.kind == "signal")


def test_only_news_is_stored_and_health_follows_each_report(
    evaluator: Evaluator, store: Store
) -> None:
    story = gains_run(380100, proven=False)
    feed(evaluator, story)
    with store.read() as tx:
        first = tx.observations.count()
    feed(evaluator, story)  # the same sightings again: nothing new to store
    with store.read() as tx:
        assert tx.observations.count() == first > 0
    evaluator.ingest(report(Source.DQM, [], error="bad gateway"))
    with store.read() as tx:
        health = tx.health.all()[Source.DQM]
    assert health.consecutive_failures == 1
    assert health.last_error == "bad gateway" and health.last_error_raw == "<html>502</html>"
    assert health.last_success is not None  # what it knew before is kept


def test_signals_go_out_in_run_order_and_are_retracted(
    evaluator: Evaluator, store: Store, clock: ManualClock
) -> None:
    lower, higher = gains_run(380100, proven=False), gains_run(380101, proven=True)
    feed(evaluator, lower)
    feed(evaluator, higher)
    evaluator.tick()
    assert evaluator.verdicts[380101] is Verdict.READY
    assert signals(store) == [], "a ready run waits while a lower run is pending"

    proof = gains_run(380100, proven=True)
    feed(evaluator, proof)
    evaluator.tick()
    assert signals(store) == [(380100, "ready"), (380101, "ready")]

    hold = Override(
        380101,
        OverrideKind.HOLD,
        "expert",
        "suspicious gains",
        clock.now(),
        clock.now() + timedelta(hours=4),
    )
    with store.transaction() as tx:
        tx.overrides.add(hold)
    evaluator.reevaluate([380101])
    assert signals(store) == [(380100, "ready"), (380101, "blocked"), (380101, "ready")]
    evaluator.tick()
    assert len(signals(store)) == 3, "one decision, one signal"


def test_failures_open_alerts_that_resolve_and_notify_every_channel(
    evaluator: Evaluator, store: Store
) -> None:
    story = gains_run(380100, proven=False)
    story.at(3).harvested(*GAINS).marker(*GAINS)
    story.upload(GAINS[0], GAINS[1][0], UploadOutcome.ERROR, info="ORA-01017")
    feed(evaluator, story)
    evaluator.tick()
    with store.read() as tx:
        open_alerts = {a.kind for a in tx.alerts.open_alerts() if a.run == 380100}
        queued = [m for m in tx.outbox.list(None, 100) if m.kind == "alert"]
    assert "failed" in open_alerts
    assert {m.channel for m in queued} == {"alertmanager", "email"}
    assert all(m.payload["state"] == "firing" for m in queued)

    retried = Story(run=380100).at(4).harvested(*GAINS, uuid="u2").marker(*GAINS, uuid="u2")
    retried.at(4.5).iov(GAINS[1][0])
    feed(evaluator, retried)
    evaluator.tick()
    with store.read() as tx:
        still_open = {a.kind for a in tx.alerts.open_alerts() if a.run == 380100}
        states = sorted(m.payload["state"] for m in tx.outbox.list(None, 100) if m.kind == "alert")
    assert "failed" not in still_open
    assert states.count("resolved") >= 2  # one per channel


def test_a_restart_replays_the_store_into_the_same_judgement(
    evaluator: Evaluator, store: Store
) -> None:
    feed(evaluator, gains_run(380100, proven=True))
    before = evaluator.assess(380100)
    again = restarted(evaluator, store)
    assert again.load() > 0
    assert again.assess(380100) == before


def test_next_health_keeps_the_last_success_through_failures() -> None:
    ok = next_health(None, report(Source.TIER0, []), T0)
    failed = next_health(ok, report(Source.TIER0, [], error="timeout"), T0 + timedelta(minutes=5))
    assert failed.last_success == T0 and failed.consecutive_failures == 1
    recovered = next_health(failed, report(Source.TIER0, []), T0 + timedelta(minutes=10))
    assert recovered.consecutive_failures == 0 and recovered.last_error == "timeout"


def test_firing_alerts_are_repeated_to_alertmanager_while_they_last(
    evaluator: Evaluator, store: Store, clock: ManualClock
) -> None:
    story = gains_run(380100, proven=False)
    story.at(3).harvested(*GAINS).marker(*GAINS)
    story.upload(GAINS[0], GAINS[1][0], UploadOutcome.ERROR, info="ORA-01017")
    feed(evaluator, story)
    for _ in range(3):
        clock.advance(timedelta(minutes=5))
        evaluator.tick()
    with store.read() as tx:
        sent = [m for m in tx.outbox.list(None, 200) if m.kind == "alert"]
    to_alertmanager = [m for m in sent if m.channel == "alertmanager"]
    to_email = [m for m in sent if m.channel == "email"]
    assert len(to_email) == len({m.payload["dedupe_key"] for m in to_email}), "mail once"
    assert len(to_alertmanager) > len(to_email), "Alertmanager hears it again"


def released_run(run: int) -> Story:
    """A proven run that the Tier-0 then locked (FCSR past it) and released: final."""
    return gains_run(run, proven=True).at(40).fcsr(run + 1).released()


def stored_count(store: Store) -> int:
    with store.read() as tx:
        return tx.observations.count()


def test_final_runs_leave_memory_and_are_no_longer_scanned(evaluator: Evaluator) -> None:
    feed(evaluator, released_run(380100))
    feed(evaluator, gains_run(380101, proven=False))
    assert evaluator.verdicts[380100] is Verdict.RELEASED
    assert 380100 not in evaluator.knowledge.runs, "a final run is evicted"
    assert evaluator.open_runs() == [380101]
    assert set(evaluator.open_verdicts()) == {380101}
    assert evaluator.scope().highest_known_run == 380101
    evaluator.tick()
    assert evaluator.verdicts[380100] is Verdict.RELEASED, "eviction changes no verdict"


def test_a_late_observation_of_an_evicted_run_is_stored_and_judged_as_before(
    evaluator: Evaluator, store: Store
) -> None:
    story = released_run(380100)
    feed(evaluator, story)
    before = stored_count(store)
    feed(evaluator, story)  # the same sightings again: an evicted run is not news either
    assert stored_count(store) == before and 380100 not in evaluator.knowledge.runs

    late = story.at(45).iov(GAINS[1][0], payload="written after the lock-in")
    evaluator.ingest(report(Source.CONDDB, [late.observations[-1]]))
    assert stored_count(store) == before + 1, "nothing of an evicted run is lost"
    # Judged again; it leaves memory again only if its verdict is still final (a payload
    # written over its proof after the lock-in leaves no evidence either way: unknown).
    final = evaluator.verdicts[380100].is_final
    assert (380100 not in evaluator.knowledge.runs) == final
    with store.read() as tx:
        stored = tx.states.get_run(380100)
    # Judged from everything stored about it, as if it had never left memory.
    reference = restarted(evaluator, store)
    reference.knowledge = Knowledge()
    reference.health = dict(evaluator.health)
    for observation in late.observations:
        reference.knowledge.add(observation)
    expected = reference.assess(380100)
    assert stored is not None and stored.verdict is expected.verdict
    assert stored.assessment.reasons == expected.reasons
    assert evaluator.verdicts[380100] is expected.verdict


def test_a_restart_keeps_final_runs_out_of_memory(evaluator: Evaluator, store: Store) -> None:
    feed(evaluator, released_run(380100))
    feed(evaluator, gains_run(380102, proven=False))
    again = restarted(evaluator, store)
    again.load()
    assert again.open_runs() == [380102]
    assert 380100 not in again.knowledge.runs and again.verdicts[380100] is Verdict.RELEASED


def batch_feed(evaluator: Evaluator, story: Story) -> None:
    """The same reports as ``feed``, handed in together as one batch (``ingest_many``)."""
    by_source: dict[Source, list[Observation]] = {}
    for observation in story.observations:
        by_source.setdefault(observation.source, []).append(observation)
    evaluator.ingest_many([report(source, by_source.get(source, [])) for source in Source])


def latest_signals(store: Store) -> dict[int, str]:
    with store.read() as tx:
        return {s.run: s.verdict for s in tx.signals.all_latest()}


def open_alert_keys(store: Store) -> set[str]:
    with store.read() as tx:
        return {a.dedupe_key for a in tx.alerts.open_alerts()}


def test_one_batch_per_instant_concludes_what_a_batch_per_report_does(
    evaluator: Evaluator, store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'batched.db'}"
    upgrade(url)
    other = Store(build_engine(url))
    batched = Evaluator(
        other,
        evaluator.catalogue,
        evaluator.policy,
        clock,
        SignalDesk([SIGNAL_CHANNEL], public_url="http://agency"),
        AlertKeeper(evaluator.policy, ALERT_CHANNELS, list(Source), "http://agency"),
    )
    failing = gains_run(380102, proven=False)
    failing.at(3).harvested(*GAINS).marker(*GAINS)
    failing.upload(GAINS[0], GAINS[1][0], UploadOutcome.ERROR, info="ORA-01017")
    instants = [
        gains_run(380100, proven=False),
        gains_run(380101, proven=True),
        failing,
        gains_run(380100, proven=True),  # the lower run catches up: both go
        released_run(380100),  # final: leaves memory
        gains_run(380100, proven=True).at(41).iov(GAINS[1][0]),  # late: restored from store
    ]
    try:
        for story in instants:
            feed(evaluator, story)
            evaluator.tick()
            batch_feed(batched, story)
            batched.tick()
            assert batched.verdicts == evaluator.verdicts
            # The Tier-0 hears the same last word on every run; a batch per report may also
            # have said something in between (judged on half the instant's reports), which
            # one batch never does.
            assert latest_signals(other) == latest_signals(store)
            assert set(signals(other)) <= set(signals(store))
            assert open_alert_keys(other) == open_alert_keys(store)
            assert batched.health == evaluator.health
            clock.advance(timedelta(hours=1))
        assert signals(store), "the story must send signals"
        assert stored_count(other) == stored_count(store)
    finally:
        other.dispose()


def test_an_alert_is_held_while_a_stale_source_hides_its_workflow(
    evaluator: Evaluator, store: Store, clock: ManualClock
) -> None:
    """A source that goes stale and fresh again must not resolve and re-open the alerts of
    the workflows it hides meanwhile: the condition may well have lasted."""
    story = gains_run(380100, proven=False).at(3).stream_done("Express")
    story.harvest_job("Express", HarvestJobState.FAILED)
    clock.set(T0 + timedelta(hours=15))  # harvesting for more than 12 h after the stop
    feed(evaluator, story)
    evaluator.tick()

    def open_alerts() -> list[tuple[int, str, str | None]]:
        with store.read() as tx:
            alerts = tx.alerts.history(limit=100)
        return sorted((a.id, a.kind, a.workflow) for a in alerts if a.run == 380100)

    first = open_alerts()
    # timed_out; the failed harvest job is in its evidence
    assert [(kind, wf) for _, kind, wf in first] == [("failed", "SiStripGains")]
    clock.advance(timedelta(hours=1))  # no poll for an hour: every source stale
    hidden = evaluator.tick()
    (gains,) = [
        w.state
        for a in hidden.assessments
        if a.run == 380100
        for w in a.workflows
        if w.workflow == "SiStripGains"
    ]
    assert gains is WorkflowState.UNKNOWN
    assert open_alerts() == first  # held, not resolved, and nothing new
    feed(evaluator, Story(run=380100))  # every source answers again
    evaluator.tick()
    assert open_alerts() == first  # the same alerts, never resolved nor re-opened
    with store.read() as tx:
        assert all(a.is_open for a in tx.alerts.history(limit=100) if a.run == 380100)


def test_memory_lost_to_an_unreadable_store_is_loaded_before_the_next_batch(
    store: Store, clock: ManualClock
) -> None:
    broken = [False]

    def fence(tx: object) -> None:
        if broken[0]:
            raise Deposed("the store refuses writes")

    evaluator = make_evaluator(store.with_fence(fence), clock)
    evaluator.load()
    feed(evaluator, gains_run(380100, proven=True))
    before = evaluator.tick().assessments
    broken[0] = True
    with pytest.raises(Deposed):  # the batch fails, and so does rebuilding memory after it
        evaluator.ingest(report(Source.OMS, []))
    broken[0] = False
    after = evaluator.tick().assessments  # memory is loaded again first
    assert [a.run for a in after] == [a.run for a in before] == [380100]
    assert after[0].verdict is before[0].verdict


def test_a_hold_on_a_released_run_and_its_revocation_leave_the_run_exactly_as_before(
    evaluator: Evaluator, store: Store
) -> None:
    """Re-judging a final run (evicted from memory, ADR 7) loads it from the store first:
    judged from empty memory it would turn missed, lose its workflows, stop and release."""
    feed(evaluator, released_run(380100))
    assert 380100 not in evaluator.knowledge.runs, "final, so evicted"
    with store.read() as tx:
        before = tx.states.get_run(380100)
    assert before is not None and before.verdict is Verdict.RELEASED
    now = evaluator.clock.now()
    hold = Override(
        380100, OverrideKind.HOLD, "expert", "look again", now, now + timedelta(hours=4)
    )
    with store.transaction() as tx:
        placed = tx.overrides.add(hold)
    evaluator.reevaluate([380100])
    with store.transaction() as tx:
        assert placed.id is not None
        tx.overrides.revoke(placed.id, "expert", evaluator.clock.now())
    evaluator.reevaluate([380100])
    again = restarted(evaluator, store)
    again.load()
    again.reevaluate([380100])
    with store.read() as tx:
        after = tx.states.get_run(380100)
    assert after is not None
    assert after.verdict is Verdict.RELEASED
    assert after.assessment.workflows == before.assessment.workflows
    assert after.assessment.reasons == before.assessment.reasons
    assert (after.assessment.stop, after.assessment.released_at) == (
        before.assessment.stop,
        before.assessment.released_at,
    )
    assert 380100 not in evaluator.knowledge.runs, "and out of memory again"
