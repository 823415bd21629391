"""What the plots read from the store: polls per source and hour (bounded), run timings, and
each workflow's stop-to-proof latency."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from spyagency.domain.health import SourceHealth
from spyagency.domain.states import Source, Verdict, WorkflowState
from spyagency.store import Store
from spyagency.store.poll_history import KEEP, PollHistoryRepository, PollHour
from spyagency.store.run_timing import RunTiming, RunTimingQueries

from .builders import T0, assessment, at, workflow


def success(source: Source, minutes: float) -> SourceHealth:
    return SourceHealth(source, last_success=at(minutes), last_attempt=at(minutes))


def failure(source: Source, minutes: float) -> SourceHealth:
    return SourceHealth(
        source,
        last_success=at(0),
        last_attempt=at(minutes),
        last_error="HTTP 502",
        last_error_at=at(minutes),
        consecutive_failures=1,
    )


def test_each_recorded_poll_counts_in_its_hour(store: Store) -> None:
    with store.transaction() as tx:
        tx.health.record(success(Source.TIER0, 1))
        tx.health.record_many([success(Source.TIER0, 2), failure(Source.OMS, 3)])
        tx.health.record(failure(Source.TIER0, 61))
        tx.health.record(SourceHealth(Source.DQM))  # never attempted: not a poll
    with store.read() as tx:
        history = PollHistoryRepository(tx.connection).since(T0)
    assert history == [
        PollHour(Source.OMS, T0, successes=0, failures=1),
        PollHour(Source.TIER0, T0, successes=2, failures=0),
        PollHour(Source.TIER0, T0 + timedelta(hours=1), successes=0, failures=1),
    ]


def test_hours_older_than_the_kept_span_are_forgotten(store: Store) -> None:
    later = KEEP / timedelta(minutes=1) + 120
    with store.transaction() as tx:
        tx.health.record(success(Source.TIER0, 0))
        tx.health.record(success(Source.OMS, 0))
        tx.health.record(success(Source.TIER0, later))
    with store.read() as tx:
        history = PollHistoryRepository(tx.connection).since(T0 - timedelta(days=1))
    # Only the source that polled again forgets its old hours; the other keeps its last.
    assert [(item.source, item.hour) for item in history] == [
        (Source.OMS, T0),
        (Source.TIER0, T0 + timedelta(minutes=later)),
    ]


def test_run_timings_and_proof_latency_per_workflow(store: Store) -> None:
    released = dataclasses.replace(
        assessment(1, Verdict.RELEASED),
        workflows=(
            workflow("Gains", WorkflowState.IN_DB, proven_at=at(90)),
            workflow("Pixel", WorkflowState.IN_DB, proven_at=at(30)),
        ),
        released_at=at(180),
        proof_complete_at=at(90),
    )
    pending = dataclasses.replace(
        assessment(2),
        workflows=(
            workflow("Gains", WorkflowState.IN_DB, proven_at=at(60 * 4)),
            workflow("Pixel", WorkflowState.HARVESTING),
        ),
    )
    not_stopped = dataclasses.replace(assessment(3), stop=None)
    old = dataclasses.replace(assessment(4), stop=T0 - timedelta(days=30))
    with store.transaction() as tx:
        for item in (released, pending, not_stopped, old):
            tx.states.save_run(item, at(200))
    with store.read() as tx:
        queries = RunTimingQueries(tx.connection)
        timings = queries.stopped_since(T0 - timedelta(days=1))
        latency = queries.proof_hours_by_workflow(T0 - timedelta(days=1))
        everything = queries.stopped_since(None)
    assert timings == [
        RunTiming(1, Verdict.RELEASED, T0, at(180), at(90)),
        RunTiming(2, Verdict.PENDING, T0, None, None),
    ]
    assert {name: sorted(hours) for name, hours in latency.items()} == {
        "Gains": [1.5, 4.0],
        "Pixel": [0.5],
    }
    assert [timing.run for timing in everything] == [1, 2, 4]
