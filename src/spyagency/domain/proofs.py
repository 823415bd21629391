"""What proves a workflow done: its payload in the CondDB, or no payload by design.

A workflow is never taken as done on the strength of an absence: it takes a proof. There are
two kinds. Either the payload its harvest wrote (by hash) is in an IOV covering the run,
inserted after the harvest, in every destination tag (``prove_in_db``); or a producer stated
that nothing was to be written and an earlier IOV still covers the run in every destination
tag (``prove_no_payload``). Each answers with the proof and its evidence, with one piece of
evidence saying what is still missing, or with None when it has nothing to go on. These are
rules 2 and 4 of the lifecycle (``lifecycle``), which decides what a proof means for the
workflow's state; docs/adr/0002 and 0006 state the evidence rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from spyagency.domain.catalogue import WorkflowSpec
from spyagency.domain.evidence import Evidence
from spyagency.domain.facts import HarvestFile
from spyagency.domain.iov import covering_iovs, since_text
from spyagency.domain.knowledge import RunKnowledge
from spyagency.domain.states import HarvestJobState, Source

NO_OUTPUT_LFN = "/no/output"


@dataclass(frozen=True)
class Proof:
    proven_at: datetime
    evidence: tuple[Evidence, ...]


def prove_in_db(spec: WorkflowSpec, knowledge: RunKnowledge) -> Proof | Evidence | None:
    """Proof that every harvested input tag's payload covers the run in every destination tag.

    Returns the proof, or one piece of evidence saying what is missing, or None if nothing was
    harvested.
    """
    run = knowledge.run
    # One harvest job writes all its outputs under one uuid: a file is (input tag, uuid).
    markers = {(m.input_tag, m.uuid): m for m in knowledge.upload_markers(spec.input_tags)}
    proofs: list[Evidence] = []
    latest = None
    missing: Evidence | None = None
    for input_tag in spec.input_tags:
        files = [f for f in knowledge.harvest_files([input_tag]) if f.payload_hashes]
        if not files:
            continue
        found = None
        for harvest in reversed(files):
            marker = markers.get((harvest.input_tag, harvest.uuid))
            tags = marker.destination_tags if marker else harvest.destination_tags
            result = _prove_file(spec, knowledge, harvest, tags)
            if isinstance(result, Proof):
                found = result
                break
            missing = missing or result
        if found is None:
            return missing
        proofs.extend(found.evidence)
        latest = found.proven_at if latest is None else max(latest, found.proven_at)
    if latest is None:
        return None
    summary = Evidence(None, f"run {run} covered by its harvested payload(s)", latest)
    return Proof(latest, (summary, *proofs))


def _prove_file(
    spec: WorkflowSpec, knowledge: RunKnowledge, harvest: HarvestFile, tags: tuple[str, ...]
) -> Proof | Evidence:
    if not tags:
        return Evidence(Source.HARVEST, f"{harvest.input_tag}@{harvest.uuid}: no destination tag")
    items: list[Evidence] = []
    latest = harvest.created
    for tag in tags:
        covering = covering_iovs(knowledge.iovs(tag), knowledge.run, spec.time_type)
        good = [
            iov
            for iov in covering
            if iov.payload_hash in harvest.payload_hashes and iov.insertion_time >= harvest.created
        ]
        if not good:
            seen = (
                ", ".join(
                    f"{i.payload_hash[:8]}@{since_text(i.since, spec.time_type)}" for i in covering
                )
                or "none"
            )
            return Evidence(
                Source.CONDDB,
                f"tag {tag}: no IOV covering run {knowledge.run} with payload "
                f"{harvest.payload_hashes[0][:8]} inserted after the harvest (covering: {seen})",
            )
        best = max(good, key=lambda iov: iov.insertion_time)
        latest = max(latest, best.insertion_time)
        items.append(
            Evidence(
                Source.CONDDB,
                f"tag {tag}: IOV since {since_text(best.since, spec.time_type)} "
                f"payload {best.payload_hash}",
                best.insertion_time,
                ref=f"conddb:{tag}:{best.since}",
            )
        )
    return Proof(latest, tuple(items))


def prove_no_payload(
    spec: WorkflowSpec, knowledge: RunKnowledge, streams: tuple[str, ...]
) -> Proof | Evidence | None:
    """Positive evidence that the harvest produced nothing by design, and that an earlier IOV
    still covers the run in every destination tag (so PromptReco has valid conditions).

    The evidence is a statement by a producer, never an absence: a job report of this
    producer's own AlcaHarvest task that names ``/no/output``; the task's agent reporting it
    finished without failure, followed by a full listing of the harvest area that holds no
    file of the workflow's input tags; or the alignment's veto read from its
    ``statusResults`` bins. A harvest that worked at its first try leaves no job document at
    all (WMCore ChangeState), so "no document" says nothing either way.
    """
    if knowledge.harvest_files(spec.input_tags):
        return None
    reasons: list[Evidence] = []
    for job in knowledge.harvest_jobs(streams):
        if (
            job.state is HarvestJobState.SUCCESS
            and job.producer == spec.producer
            and NO_OUTPUT_LFN in job.outputs
        ):
            reasons.append(
                Evidence(
                    Source.WMSTATS,
                    f"harvest job of {job.producer} ({job.stream}) reported no output",
                    knowledge.seen_at(job),
                )
            )
            break
    over = _finished_without_files(spec, knowledge, streams)
    if over is not None:
        reasons.append(over)
    dqm = knowledge.dqm(spec.name)
    if spec.vetoable and dqm is not None and dqm.alignment_read and dqm.vetoed:
        reasons.append(
            Evidence(Source.DQM, "DB update vetoed by the alignment", knowledge.seen_at(dqm))
        )
    if not reasons:
        return None
    # Each statement proves the same thing; the one dating furthest back says since when.
    reason = min(reasons, key=lambda e: (e.at is None, e.at or datetime.min.replace(tzinfo=UTC)))
    if not spec.destination_tags:
        return Evidence(None, "no destination tag configured to check earlier coverage")
    items = [reason]
    for tag in spec.destination_tags:
        covering = covering_iovs(knowledge.iovs(tag), knowledge.run, spec.time_type)
        if not covering:
            return Evidence(
                Source.CONDDB, f"no payload by design, but no IOV in {tag} covers the run"
            )
        items.append(
            Evidence(
                Source.CONDDB,
                f"tag {tag}: earlier IOV since {since_text(covering[0].since, spec.time_type)} "
                "covers the run",
            )
        )
    return Proof(reason.at or knowledge_time(knowledge), tuple(items))


def _finished_without_files(
    spec: WorkflowSpec, knowledge: RunKnowledge, streams: tuple[str, ...]
) -> Evidence | None:
    """The producer's harvest task reported over without failure, and every input tag of
    the workflow found absent by a full listing made after the agency received that report.
    An AlcaHarvest job copies its files out before it ends, so that listing saw all the job
    wrote; nothing was there from the task's end on, which is when the evidence dates from."""
    latest = knowledge.harvest_over_received(spec.producer, streams)
    if latest is None or not all(knowledge.listed_without(t, latest) for t in spec.input_tags):
        return None
    tasks = knowledge.harvest_tasks(spec.producer, streams)
    succeeded = sum(task.succeeded for task in tasks)
    jobs = f"{succeeded} job(s) succeeded, none failed" if succeeded else "no job ran"
    names = ", ".join(sorted({task.stream for task in tasks}))
    ended = [knowledge.seen_at(task) for task in tasks]
    return Evidence(
        Source.HARVEST,
        f"harvest task of {spec.producer} ({names}) finished: {jobs}; the harvest area listed "
        f"after it holds no file of {', '.join(spec.input_tags)}",
        max((t for t in ended if t is not None), default=None),
    )


def knowledge_time(knowledge: RunKnowledge) -> datetime:
    return max(o.observed_at for o in knowledge.observations())
