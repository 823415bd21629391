"""The per-run verdict: may PromptReco of this run start with its calibrations?

``judge_run`` decides in this order (the first rule that applies wins):

1. The Tier-0 has locked or released the run: ``released`` (every counted workflow proven by
   the lock-in) or ``missed`` (evidence that one was not: a failure, a deadline the agency
   watched expire and every critical source read since the lock-in without its proof, or a
   proof that came after the lock-in), or still ``ready`` awaiting
   release. Without evidence either way (a run first seen after its lock-in whose history is
   not, or not yet, readable) the verdict is ``unknown`` with a reason that says so: a missed
   run raises a critical alert and counts in the KPI, so it must rest on evidence.
2. The run is not known to OMS yet, a critical source is stale, or an item about the whole
   run could not be read: ``unknown``.
3. The run's class is exempt by policy: ``ready``.
4. The run is still taking data: ``pending``.
5. The Tier-0 express configuration is missing: ``pending`` within the harvest budget,
   ``unknown`` after it.
6. Otherwise the counted workflows decide: any failure ``blocked``, any unknown ``unknown``,
   all proven ``ready``, else ``pending``.

Overrides are applied last and never hide the automatic verdict, which is kept beside them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from spyagency.domain.catalogue import Catalogue
from spyagency.domain.evidence import Evidence
from spyagency.domain.facts import ItemProblem
from spyagency.domain.health import SourceHealth, all_heard_since, stale_sources
from spyagency.domain.knowledge import RunKnowledge, SystemKnowledge
from spyagency.domain.lifecycle import WorkflowAssessment, assess_workflow
from spyagency.domain.overrides import Override, OverrideKind, active_overrides
from spyagency.domain.policy import Group, Policy
from spyagency.domain.requirements import expected_workflows
from spyagency.domain.states import Source, Verdict, WorkflowState


@dataclass(frozen=True)
class RunAssessment:
    run: int
    verdict: Verdict
    automatic_verdict: Verdict
    reasons: tuple[str, ...]
    workflows: tuple[WorkflowAssessment, ...]
    overrides: tuple[Override, ...] = ()
    stop: datetime | None = None
    lock_in_at: datetime | None = None
    locked_at: datetime | None = None
    released_at: datetime | None = None
    proof_complete_at: datetime | None = None
    stale_sources: tuple[Source, ...] = ()

    def workflow(self, name: str) -> WorkflowAssessment | None:
        for assessment in self.workflows:
            if assessment.workflow == name:
                return assessment
        return None

    @property
    def counted(self) -> list[WorkflowAssessment]:
        return [w for w in self.workflows if w.counted and not w.optional]


@dataclass(frozen=True)
class Context:
    """Everything outside the run itself that a verdict depends on."""

    catalogue: Catalogue
    policy: Policy
    now: datetime
    health: Mapping[Source, SourceHealth]
    system: SystemKnowledge
    overrides: Sequence[Override] = ()


def judge_run(knowledge: RunKnowledge, context: Context) -> RunAssessment:
    policy, now, run = context.policy, context.now, knowledge.run
    info = knowledge.info
    stop = info.stop if info else None
    lock_in_at = stop + policy.lock_in_delay() if stop else None
    stale = frozenset(
        stale_sources(context.health, now, policy.stale_after, policy.critical_sources)
    )
    overrides = active_overrides(context.overrides, run, now)
    ignored = {o.workflow: o for o in overrides if o.kind is OverrideKind.IGNORE_WORKFLOW}

    expectation = expected_workflows(knowledge, context.catalogue, policy)
    # After the lock-in the question is historical (was it proven in time?): a source that is
    # stale now cannot change the answer, so it must not mask the evidence.
    if context.system.locked_at(run) is not None or knowledge.released is not None:
        stale_for_states: frozenset[Source] = frozenset()
    else:
        stale_for_states = stale
    workflows: list[WorkflowAssessment] = []
    for spec in context.catalogue.workflows:
        if spec.name in expectation.expected:
            streams = expectation.streams[spec.name]
            assessment = assess_workflow(spec, streams, knowledge, policy, now, stale_for_states)
            override = ignored.get(spec.name)
            if override is not None:
                assessment = _replace(assessment, ignored_by=override.describe())
            workflows.append(assessment)
        else:
            why = expectation.not_expected.get(spec.name, "express configuration not yet known")
            workflows.append(
                WorkflowAssessment(
                    spec.name,
                    WorkflowState.NOT_EXPECTED if expectation.known else WorkflowState.UNKNOWN,
                    (Evidence(Source.TIER0, why),),
                    counted=False,
                )
            )
    for producer in expectation.unknown_producers:
        workflows.append(
            WorkflowAssessment(
                producer,
                WorkflowState.UNKNOWN,
                (Evidence(Source.TIER0, f"{producer} is not in the workflow catalogue"),),
                unknown_producer=True,
            )
        )

    proven = [w.proven_at for w in workflows if w.counted and w.proven_at is not None]
    proof_complete_at = max(proven) if proven else None
    locked_at = context.system.locked_at(run)
    released_at = knowledge.released_observed_at()

    automatic, reasons = _automatic(
        knowledge, context, workflows, expectation.known, expectation.exempt_reason, stale
    )
    verdict, reasons = _apply_overrides(automatic, reasons, overrides)
    return RunAssessment(
        run=run,
        verdict=verdict,
        automatic_verdict=automatic,
        reasons=tuple(reasons),
        workflows=tuple(workflows),
        overrides=tuple(overrides),
        stop=stop,
        lock_in_at=lock_in_at,
        locked_at=locked_at,
        released_at=released_at,
        proof_complete_at=proof_complete_at,
        stale_sources=tuple(sorted(stale)),
    )


def _automatic(
    knowledge: RunKnowledge,
    context: Context,
    workflows: list[WorkflowAssessment],
    known: bool,
    exempt_reason: str | None,
    stale: frozenset[Source],
) -> tuple[Verdict, list[str]]:
    policy, now, run = context.policy, context.now, knowledge.run
    info = knowledge.info
    locked_at = context.system.locked_at(run)
    released = knowledge.released
    if locked_at is not None or released is not None:
        return _after_lock_in(knowledge, context, workflows, known, exempt_reason)
    if info is None:
        return Verdict.UNKNOWN, ["run not (yet) known to OMS: no start or stop time"]
    if stale:
        names = ", ".join(s.value for s in sorted(stale))
        return Verdict.UNKNOWN, [f"stale source(s): {names}; cannot prove readiness"]
    whole_run = [p for p in knowledge.open_problems() if _about_whole_run(p)]
    if whole_run:
        items = "; ".join(f"{p.source.value} {p.item}: {p.message}" for p in whole_run)
        return Verdict.UNKNOWN, [f"unreadable: {items}"]
    if exempt_reason is not None:
        return Verdict.READY, [exempt_reason]
    if info.stop is None:
        return Verdict.PENDING, ["run still taking data"]
    if not known:
        if now <= info.stop + policy.harvest_timeout:
            return Verdict.PENDING, ["waiting for the Tier-0 express configuration"]
        return Verdict.UNKNOWN, ["no Tier-0 express configuration for this run"]
    return _from_workflows(workflows, policy)


NO_EVIDENCE_EITHER_WAY = "locked in before the agency could judge it: no evidence either way"


def lock_moment(knowledge: RunKnowledge, context: Context) -> datetime | None:
    """When the Tier-0 locked the run, as far as the agency can tell.

    The first sighting of the FCSR past the run (or of its release) is late when the agency
    was not watching (a fresh start, an outage, a restore). The Tier-0 never locks a run
    before ``stop + reco_delay - offset`` unless it was told the run was ready, so the earlier
    of the two is the moment calibrations had to be in by.
    """
    seen = context.system.locked_at(knowledge.run) or knowledge.released_observed_at()
    info = knowledge.info
    if info is None or info.stop is None:
        return seen
    by_rule = info.stop + context.policy.lock_in_delay()
    return by_rule if seen is None else min(seen, by_rule)


def _after_lock_in(
    knowledge: RunKnowledge,
    context: Context,
    workflows: list[WorkflowAssessment],
    known: bool,
    exempt_reason: str | None,
) -> tuple[Verdict, list[str]]:
    locked_at = lock_moment(knowledge, context)
    assert locked_at is not None
    released = knowledge.released is not None
    forced = [
        o
        for o in context.overrides
        if o.run == knowledge.run and o.kind is OverrideKind.FORCE_READY and o.active(locked_at)
    ]
    when = f"{locked_at:%Y-%m-%d %H:%M}Z"
    missing: list[str] = []
    unjudged: list[str] = []
    # Every critical source read since the lock-in: only then is a step still missing
    # known not to have been done by it.
    looked = all_heard_since(context.health, locked_at, context.policy.critical_sources)
    if exempt_reason is None and not known:
        unjudged = ["the express configuration (what the run needed) was never read"]
    elif exempt_reason is None:
        for w in _counted(workflows):
            if _proven_by(w, locked_at) or _grouped_ok(w, workflows, context.policy, locked_at):
                continue
            label = f"{w.workflow} ({w.state.value})"
            if _evidence_of_missing(w, knowledge, locked_at, looked):
                missing.append(label)
            else:
                unjudged.append(label)
    if forced:
        missing, unjudged = [], []
    if missing:
        return Verdict.MISSED, [f"locked in at {when} without: {', '.join(missing)}"]
    if unjudged:
        return Verdict.UNKNOWN, [
            f"{NO_EVIDENCE_EITHER_WAY} (lock-in {when}): {'; '.join(unjudged)}"
        ]
    if forced:
        note = f"forced ready by {forced[0].who} before the lock-in at {when}"
    else:
        note = f"all calibrations in the CondDB before the lock-in at {when}"
    if released:
        return Verdict.RELEASED, [f"PromptReco released; {note}"]
    return Verdict.READY, [f"locked in; awaiting release; {note}"]


def _evidence_of_missing(
    workflow: WorkflowAssessment, knowledge: RunKnowledge, locked_at: datetime, looked: bool
) -> bool:
    """Whether the agency holds evidence that ``workflow`` was not in by ``locked_at``: a
    proof that came later, a failure the producers reported, or a deadline that expired while
    the agency was watching the run, with every critical source read since the lock-in
    (``looked``). A step that merely never showed up is no such evidence for a run the agency
    first saw after its deadline, nor before the agency has read its sources past the lock-in:
    after a restart or an outage the first batch that learns of the lock-in still holds the
    harvests and IOVs of before, and the rest of the sources' reports are on their way."""
    state = workflow.state
    if state.is_satisfied:
        return workflow.proven_at is not None and workflow.proven_at > locked_at
    if state is WorkflowState.TIMED_OUT:
        first_seen = knowledge.first_seen
        deadline = workflow.deadline
        watched = first_seen is not None and deadline is not None and first_seen <= deadline
        return watched and looked
    return state.is_failure


def _about_whole_run(problem: ItemProblem) -> bool:
    return (
        problem.workflow is None
        and problem.input_tag is None
        and problem.stream is None
        and problem.producer is None
    )


def _proven_by(workflow: WorkflowAssessment, moment: datetime) -> bool:
    if workflow.ignored_by is not None:
        return True
    return workflow.state.is_satisfied and (
        workflow.proven_at is None or workflow.proven_at <= moment
    )


def _counted(workflows: Iterable[WorkflowAssessment]) -> list[WorkflowAssessment]:
    return [w for w in workflows if w.counted and not w.optional]


def _grouped_ok(
    workflow: WorkflowAssessment,
    workflows: list[WorkflowAssessment],
    policy: Policy,
    moment: datetime,
) -> bool:
    group = policy.group_of(workflow.workflow)
    if group is None:
        return False
    members = [w for w in _counted(workflows) if w.workflow in group.workflows]
    return sum(_proven_by(w, moment) for w in members) >= group.k


def _from_workflows(
    workflows: list[WorkflowAssessment], policy: Policy
) -> tuple[Verdict, list[str]]:
    counted = _counted(workflows)
    failures: list[str] = []
    unknown: list[str] = []
    waiting: list[str] = []
    solo = [w for w in counted if policy.group_of(w.workflow) is None]
    for w in solo:
        if w.satisfied:
            continue
        label = f"{w.workflow} {w.state.value}"
        if w.state.is_failure:
            failures.append(label)
        elif w.state is WorkflowState.UNKNOWN:
            unknown.append(label)
        else:
            waiting.append(label)
    for group in policy.groups:
        _judge_group(group, counted, failures, unknown, waiting)
    if failures:
        return Verdict.BLOCKED, [f"needs an expert: {', '.join(failures)}"]
    if unknown:
        return Verdict.UNKNOWN, [f"cannot judge: {', '.join(unknown)}"]
    if waiting:
        return Verdict.PENDING, [f"waiting for: {', '.join(waiting)}"]
    proven = len([w for w in counted if w.satisfied])
    return Verdict.READY, [f"all {proven} required calibration(s) proven"]


def _judge_group(
    group: Group,
    counted: list[WorkflowAssessment],
    failures: list[str],
    unknown: list[str],
    waiting: list[str],
) -> None:
    members = [w for w in counted if w.workflow in group.workflows]
    if not members:
        return
    k = min(group.k, len(members))
    done = sum(w.satisfied for w in members)
    if done >= k:
        return
    failed = sum(w.state.is_failure for w in members)
    label = f"group {group.name} ({done}/{k} of {len(members)})"
    if len(members) - failed < k:
        failures.append(label)
    elif any(w.state is WorkflowState.UNKNOWN for w in members):
        unknown.append(label)
    else:
        waiting.append(label)


def _apply_overrides(
    automatic: Verdict, reasons: list[str], overrides: list[Override]
) -> tuple[Verdict, list[str]]:
    if automatic.is_final:
        return automatic, reasons
    for override in overrides:
        if override.kind is OverrideKind.HOLD:
            return Verdict.BLOCKED, [f"override: {override.describe()}", *reasons]
    for override in overrides:
        if override.kind is OverrideKind.FORCE_READY:
            return Verdict.READY, [f"override: {override.describe()}", *reasons]
    return automatic, reasons


def _replace(assessment: WorkflowAssessment, **changes: object) -> WorkflowAssessment:
    from dataclasses import replace

    return replace(assessment, **changes)  # type: ignore[arg-type]
