"""The per-(run, workflow) lifecycle: from what is known, which state and why.

The state is a pure function of the run's knowledge, the policy and the time, so it can be
recomputed at any moment and explained by its evidence. Checks run from the strongest claim
down:

1. The workflow's quality evidence says it is bad (a quality test in ERROR, or pede reporting
   a failure for an alignment) and the workflow is quality-gated: ``quality_failed``.
2. Proof that the harvested payload is in every destination tag for the run: ``in_db``. For a
   workflow whose PCL publishes quality evidence (the alignments), the proof also needs that
   evidence read for this harvest and good; until then the workflow stays at its step.
3. An upload refused because its since was below the FCSR: ``rejected_late``.
4. Positive evidence of no payload by design (a ``/no/output`` job report of this producer's
   harvest task; its task reported finished without failure and a full listing of the
   harvest area made after that holding none of its files; or the alignment's veto bin read
   from DQM), and an earlier IOV covering the run: ``no_payload``. Absence alone (no job
   document, no file) is never such evidence.
5. An upload the service reported as failed: ``upload_failed``; an upload log whose words fit
   nothing known: ``unknown``.
6. Otherwise the furthest step reached (``upload_attempted``, ``harvested``, ``harvesting``,
   ``waiting_express``), or ``timed_out`` once that step's budget after run stop is spent.
7. An item of the workflow's own evidence that could not be read (an ``ItemProblem``) makes
   anything but a failure ``unknown``: what we could not read we do not claim.
8. A stale source masks an in-progress or absence-based state as ``unknown``.

The two proofs (rules 2 and 4) are made in ``proofs`` and the quality verdict (rules 1 and 2)
in ``quality_gate``; this module orders the rules and masks what they say (rules 7 and 8).
docs/adr/0002 and 0006 state these evidence rules; tests/domain/test_evidence_rules.py walks
them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from spyagency.domain.catalogue import WorkflowSpec
from spyagency.domain.evidence import Evidence
from spyagency.domain.facts import ItemProblem
from spyagency.domain.knowledge import RunKnowledge
from spyagency.domain.policy import Policy
from spyagency.domain.proofs import Proof, prove_in_db, prove_no_payload
from spyagency.domain.quality_gate import NOT_GATED, quality_verdict
from spyagency.domain.states import (
    HarvestJobState,
    Source,
    UploadOutcome,
    WorkflowState,
)

# How the evidence a failed or paused harvest job leaves starts (alerts look for it).
HARVEST_TROUBLE = tuple(
    f"harvest job {state.value}:" for state in (HarvestJobState.FAILED, HarvestJobState.PAUSED)
)
MASKED_BY_STALENESS = frozenset(
    {
        WorkflowState.WAITING_EXPRESS,
        WorkflowState.HARVESTING,
        WorkflowState.HARVESTED,
        WorkflowState.UPLOAD_ATTEMPTED,
        WorkflowState.NO_PAYLOAD,
        WorkflowState.TIMED_OUT,
    }
)


@dataclass(frozen=True)
class WorkflowAssessment:
    workflow: str
    state: WorkflowState
    evidence: tuple[Evidence, ...] = ()
    counted: bool = True
    optional: bool = False
    ignored_by: str | None = None
    proven_at: datetime | None = None
    deadline: datetime | None = None
    streams: tuple[str, ...] = field(default=())
    # A PCL producer the Tier-0 runs that the catalogue does not know.
    unknown_producer: bool = False

    @property
    def satisfied(self) -> bool:
        return self.state.is_satisfied or self.ignored_by is not None


def problems_of(
    spec: WorkflowSpec, streams: tuple[str, ...], knowledge: RunKnowledge
) -> list[ItemProblem]:
    """The open item problems that hide part of this workflow's evidence."""
    return [p for p in knowledge.open_problems() if _concerns(p, spec, streams)]


def _concerns(problem: ItemProblem, spec: WorkflowSpec, streams: tuple[str, ...]) -> bool:
    if problem.workflow is not None:
        return problem.workflow == spec.name
    if problem.input_tag is not None:
        return problem.input_tag in spec.input_tags
    if problem.producer is not None:
        return problem.producer == spec.producer
    if problem.stream is not None:
        return problem.stream in streams
    return False  # about the whole run: the verdict handles it


def assess_workflow(
    spec: WorkflowSpec,
    streams: tuple[str, ...],
    knowledge: RunKnowledge,
    policy: Policy,
    now: datetime,
    stale: frozenset[Source] = frozenset(),
) -> WorkflowAssessment:
    raw = _raw_state(spec, streams, knowledge, policy, now)
    state, evidence, proven_at = raw.state, raw.evidence, raw.proven_at
    problems = problems_of(spec, streams, knowledge)
    if problems and not state.is_failure:
        unreadable = tuple(
            Evidence(p.source, f"unreadable {p.item}: {p.message}", ref=f"{p.source}:{p.item}")
            for p in problems
        )
        evidence = (*unreadable, Evidence(None, f"was {state.value}"), *evidence)
        state, proven_at = WorkflowState.UNKNOWN, None
    if state.is_satisfied and not spec.has_quality_evidence:
        evidence = (*evidence, NOT_GATED)
    if state in MASKED_BY_STALENESS and stale:
        names = ", ".join(sorted(s.value for s in stale))
        evidence = (Evidence(None, f"was {state.value}; stale source(s): {names}"), *evidence)
        state, proven_at = WorkflowState.UNKNOWN, None
    return WorkflowAssessment(
        workflow=spec.name,
        state=state,
        evidence=evidence,
        optional=spec.name in policy.optional_workflows,
        proven_at=proven_at,
        deadline=raw.deadline,
        streams=streams,
    )


@dataclass(frozen=True, slots=True)
class _RawState:
    """What a workflow's own evidence says (rules 1-6), before unreadable items and stale
    sources may mask it as ``unknown`` (rules 7-8)."""

    state: WorkflowState
    evidence: tuple[Evidence, ...]
    proven_at: datetime | None = None  # set by a proof: in_db or no_payload
    deadline: datetime | None = None  # end of the current step's budget after run stop


def _raw_state(
    spec: WorkflowSpec,
    streams: tuple[str, ...],
    knowledge: RunKnowledge,
    policy: Policy,
    now: datetime,
) -> _RawState:
    bad, quality_note = quality_verdict(spec, knowledge, policy)
    if bad:
        assert quality_note is not None
        return _RawState(WorkflowState.QUALITY_FAILED, (quality_note,))

    in_db = prove_in_db(spec, knowledge)
    if isinstance(in_db, Proof) and quality_note is None:
        return _RawState(WorkflowState.IN_DB, in_db.evidence, in_db.proven_at)

    results = knowledge.upload_results(spec.input_tags)
    late = [r for r in results if r.outcome is UploadOutcome.REJECTED_LATE]
    if late:
        items = tuple(Evidence(Source.UPLOAD_LOG, f"{r.tag}: {r.info}") for r in late)
        return _RawState(WorkflowState.REJECTED_LATE, items)

    no_payload = prove_no_payload(spec, knowledge, streams)
    if isinstance(no_payload, Proof):
        return _RawState(WorkflowState.NO_PAYLOAD, no_payload.evidence, no_payload.proven_at)

    # Only the latest attempt's errors count: a retried upload supersedes an earlier failure.
    markers = knowledge.upload_markers(spec.input_tags)
    latest: dict[str, str] = {m.input_tag: m.uuid for m in markers}  # markers sorted by time
    errors = [
        r
        for r in results
        if r.outcome is UploadOutcome.ERROR and latest.get(r.input_tag, r.uuid) == r.uuid
    ]
    if errors:
        items = tuple(Evidence(Source.UPLOAD_LOG, f"{r.tag}: {r.info}") for r in errors)
        return _RawState(WorkflowState.UPLOAD_FAILED, items)
    unclassified = [
        r
        for r in results
        if r.outcome is UploadOutcome.NOT_KNOWN and latest.get(r.input_tag, r.uuid) == r.uuid
    ]
    if unclassified:
        items = tuple(
            Evidence(Source.UPLOAD_LOG, f"{r.tag}: upload outcome not known: {r.info:.200}")
            for r in unclassified
        )
        return _RawState(WorkflowState.UNKNOWN, items)

    notes: list[Evidence] = []
    if isinstance(in_db, Proof) and quality_note is not None:
        notes.append(Evidence(Source.CONDDB, "in the CondDB; waiting for its quality evidence"))
        notes.append(quality_note)
    for partial in (in_db, no_payload):
        if isinstance(partial, Evidence):
            notes.append(partial)
    if quality_note is not None and not isinstance(in_db, Proof):
        notes.append(quality_note)
    state, step = _progress(spec, streams, knowledge)
    notes[:0] = step
    for job in knowledge.harvest_jobs(streams):
        if job.state is not HarvestJobState.SUCCESS:
            notes.append(
                Evidence(Source.WMSTATS, f"harvest job {job.state.value}: {job.detail}".strip())
            )

    stop = knowledge.info.stop if knowledge.info else None
    if stop is None:
        return _RawState(state, tuple(notes))
    budget = (
        policy.harvest_timeout
        if state in (WorkflowState.WAITING_EXPRESS, WorkflowState.HARVESTING)
        else policy.upload_timeout
    )
    deadline = stop + budget
    if now > deadline:
        notes.insert(0, Evidence(None, f"still {state.value} {budget} after run stop"))
        return _RawState(WorkflowState.TIMED_OUT, tuple(notes), deadline=deadline)
    return _RawState(state, tuple(notes), deadline=deadline)


def _progress(
    spec: WorkflowSpec, streams: tuple[str, ...], knowledge: RunKnowledge
) -> tuple[WorkflowState, list[Evidence]]:
    markers = knowledge.upload_markers(spec.input_tags)
    if markers:
        last = markers[-1]
        return WorkflowState.UPLOAD_ATTEMPTED, [
            Evidence(
                Source.HARVEST, f"upload attempted: {last.input_tag}@{last.uuid}", last.attempted
            )
        ]
    files = knowledge.harvest_files(spec.input_tags)
    if files:
        last_file = files[-1]
        items = [
            Evidence(
                Source.HARVEST,
                f"harvested {last_file.input_tag}@{last_file.uuid}",
                last_file.created,
            )
        ]
        if len(files) > 1:
            items.append(Evidence(Source.HARVEST, f"harvested {len(files)} times (duplicates)"))
        return WorkflowState.HARVESTED, items
    tasks = knowledge.harvest_tasks(spec.producer, streams)
    if tasks:
        task = tasks[0]
        return WorkflowState.HARVESTING, [
            Evidence(
                Source.WMSTATS,
                f"harvest task of {task.producer} ({task.stream}): {task.succeeded} succeeded, "
                f"{task.failed} failed, {task.active} other; subscriptions "
                f"{task.subscriptions_finished} finished, {task.subscriptions_open} open",
                knowledge.seen_at(task),
            )
        ]
    done = [s for s in streams if knowledge.stream_done(s)]
    if done and len(done) == len(streams):
        # run_stream_done covers the whole Express workflow (harvest and uploads included).
        return WorkflowState.HARVESTING, [
            Evidence(Source.TIER0, f"Express workflow finished: {', '.join(done)}")
        ]
    return WorkflowState.WAITING_EXPRESS, []
