"""What a crash trial leaves behind, and how two trials are judged against each other.

``store_fingerprint`` reduces the engine's store to plain comparable values; ``TrialRun`` holds
it with the simulated Tier-0's ledger of received signals, the ground truth and the log of the
driver's lives. ``compare`` lists every way a crashed run ended differently from the reference
(the Tier-0 may release a run later by at most one dispatcher lease; ``release_delays`` counts
those), and ``delivery_problems`` every breach of the delivery contract within one run: a
refused delivery, or one decision announced under two keys.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from spyagency.harness.crash_driver import DELIVER, REDELIVER
from spyagency.harness.crash_lives import LifeLog
from spyagency.store.database import build_engine
from spyagency.store.uow import Store

# How much later than the reference the Tier-0 may release a run: the driver redelivers once a
# dead engine's lease has run out (see crash_driver).
LEASE_SLACK_S = (REDELIVER - DELIVER).total_seconds()


# --- what a run leaves behind --------------------------------------------------------------


def _t(moment: datetime | None) -> str | None:
    """Times compared as UTC text: SQLite and PostgreSQL hand back equal instants alike."""
    return None if moment is None else moment.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class StoreFingerprint:
    """Everything the engine decided and recorded, as comparable plain values (no row ids,
    no wall times, no worker names)."""

    runs: tuple[tuple[Any, ...], ...]
    workflows: tuple[tuple[Any, ...], ...]
    signals: tuple[tuple[Any, ...], ...]
    outbox: tuple[tuple[Any, ...], ...]
    events: tuple[tuple[Any, ...], ...]
    alerts: tuple[tuple[Any, ...], ...]
    observations: tuple[tuple[Any, ...], ...]


def store_fingerprint(database_url: str) -> StoreFingerprint:
    store = Store(build_engine(database_url))
    try:
        with store.read() as tx:
            records = tx.states.list_runs(limit=None)
            runs = [(r.run, r.verdict.value, _t(r.verdict_since)) for r in records]
            workflows = [
                (w.run, w.workflow, w.state.value, _t(w.state_since), _t(w.proven_at))
                for r in records
                for w in r.workflows
            ]
            signals = [
                (s.run, s.verdict.value, s.idempotency_key, _t(s.decided_at), s.sent)
                for latest in tx.signals.all_latest()
                for s in tx.signals.for_run(latest.run)
            ]
            outbox = [
                (m.channel, m.kind, m.run, m.idempotency_key, m.status.value)
                for m in tx.outbox.list(limit=1_000_000)
            ]
            events = [
                (_t(e.at), e.kind, e.run, e.workflow, e.old, e.new)
                for e in tx.events.since(0, limit=10_000_000)
            ]
            alerts = [
                (a.dedupe_key, a.kind, a.run, a.workflow, _t(a.opened_at), _t(a.resolved_at))
                for a in tx.alerts.history(limit=1_000_000)
            ]
            observations = [
                (o.source.value, _t(o.observed_at), repr(o.fact))
                for o in tx.observations.iter_all()
            ]
    finally:
        store.dispose()
    return StoreFingerprint(
        *(
            tuple(sorted(rows, key=repr))
            for rows in (runs, workflows, signals, outbox, events, alerts, observations)
        )
    )


@dataclass
class TrialRun:
    fingerprint: StoreFingerprint
    deliveries: list[dict[str, Any]]
    truth: dict[str, Any]
    lives: LifeLog
    wall_seconds: float

    def accepted(self) -> set[tuple[int, str, str]]:
        """(run, verdict, key) the Tier-0 accepted, each once however often it came."""
        return {
            (d["run"], d["verdict"], d["idempotency_key"])
            for d in self.deliveries
            if d["status"] == 200
        }

    def repeats(self) -> int:
        return sum(1 for d in self.deliveries if d["repeat"])


# --- judging ---------------------------------------------------------------------------------


def _sample(items: Iterable[Any], limit: int = 3) -> str:
    return "; ".join(repr(item) for item in list(items)[:limit])


def compare(reference: TrialRun, crashed: TrialRun) -> list[str]:
    """Every way ``crashed`` ended differently from ``reference`` (empty: identical)."""
    problems: list[str] = []
    for part in fields(StoreFingerprint):
        ours = Counter(getattr(crashed.fingerprint, part.name))
        theirs = Counter(getattr(reference.fingerprint, part.name))
        if ours != theirs:
            extra, missing = ours - theirs, theirs - ours
            problems.append(
                f"{part.name}: {sum(extra.values())} extra ({_sample(extra)}), "
                f"{sum(missing.values())} missing ({_sample(missing)})"
            )
    lost = reference.accepted() - crashed.accepted()
    if lost:
        problems.append(f"signals delivered without crashes but not with them: {_sample(lost)}")
    surplus = crashed.accepted() - reference.accepted()
    if surplus:
        problems.append(f"signals delivered only with crashes: {_sample(surplus)}")
    problems += [f"Tier-0: {p}" for p in tier0_differences(reference.truth, crashed.truth)]
    return problems


def tier0_differences(reference: dict[str, Any], crashed: dict[str, Any]) -> list[str]:
    """How each run was released (early, by timer, not yet), when, and what it missed.

    A release may come later by at most one dispatcher lease: a signal claimed by an engine
    that was then killed stays claimed until the lease runs out (the driver's third phase),
    as it would in production. ``release_delays`` counts those."""
    ours, theirs = _releases(crashed), _releases(reference)
    problems = []
    for run in sorted(set(ours) | set(theirs)):
        mine, other = ours.get(run), theirs.get(run)
        if mine is None or other is None or mine[0] != other[0] or mine[2] != other[2]:
            problems.append(f"run {run}: {mine} instead of {other}")
        elif not 0 <= _delay(mine[1], other[1]) <= LEASE_SLACK_S:
            problems.append(f"run {run} released at {mine[1]} instead of {other[1]}")
    return problems


def release_delays(reference: TrialRun, crashed: TrialRun) -> int:
    """Runs the Tier-0 released later than in the reference (by at most a lease)."""
    ours, theirs = _releases(crashed.truth), _releases(reference.truth)
    return sum(1 for run in set(ours) & set(theirs) if _delay(ours[run][1], theirs[run][1]) > 0)


def _releases(truth: dict[str, Any]) -> dict[int, tuple[Any, float | None, int]]:
    return {r["run"]: (r["released"], r["release_time"], len(r["missed"])) for r in truth["runs"]}


def _delay(ours: float | None, theirs: float | None) -> float:
    if ours is None or theirs is None:
        return 0.0 if ours == theirs else float("inf")
    return ours - theirs


def delivery_problems(run: TrialRun) -> list[str]:
    """Breaches of the delivery contract in one run's Tier-0 ledger: a refused delivery, or one
    decision announced under two keys. A run may legitimately be announced ready, retracted and
    ready again (three decisions, three keys), so per run the verdicts of its distinct keys, in
    order of first arrival, must change at every new key."""
    problems = [
        f"delivery refused with HTTP {d['status']}: {d}"
        for d in run.deliveries
        if d["status"] != 200
    ]
    announced: dict[int, list[tuple[str, str]]] = {}
    seen: set[str] = set()
    for delivery in run.deliveries:
        key = delivery["idempotency_key"]
        if delivery["status"] == 200 and key not in seen:
            seen.add(key)
            announced.setdefault(delivery["run"], []).append((delivery["verdict"], key))
    for run_number, decisions in sorted(announced.items()):
        for (verdict, key), (following, other) in itertools.pairwise(decisions):
            if verdict == following:
                problems.append(f"run {run_number} announced {verdict} twice: {key}, {other}")
    return problems
