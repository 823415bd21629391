"""What to ask the spies in the next poll cycle: the open runs and what each still needs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from spyagency.domain.catalogue import Catalogue
from spyagency.domain.facts import HarvestFile, HarvestJob, ItemProblem
from spyagency.domain.knowledge import Knowledge, RunKnowledge
from spyagency.domain.policy import Policy
from spyagency.domain.requirements import expected_workflows
from spyagency.domain.states import UploadOutcome
from spyagency.spies.harvest_files import FILE_NAME as HARVEST_FILE_NAME
from spyagency.spies.scope import (
    FinishedHarvest,
    PollScope,
    RunScope,
    UploadScope,
    WorkflowScope,
)


def run_scope(knowledge: RunKnowledge, catalogue: Catalogue, policy: Policy) -> RunScope:
    info = knowledge.info
    configs = knowledge.express_configs
    expectation = expected_workflows(knowledge, catalogue, policy)
    workflows = []
    uploads: list[UploadScope] = []
    finished: dict[str, FinishedHarvest] = {}
    harvested: set[str] = set()
    for name, spec in expectation.expected.items():
        tags = set(spec.destination_tags)
        files = knowledge.harvest_files(spec.input_tags)
        markers = knowledge.upload_markers(spec.input_tags)
        for harvest in files:
            tags.update(harvest.destination_tags)
        for marker in markers:
            tags.update(marker.destination_tags)
        streams = expectation.streams.get(name, ())
        for harvest_over in _finished_harvests(knowledge, spec.producer, spec.input_tags, streams):
            finished.setdefault(harvest_over.input_tag, harvest_over)
        if any(t.succeeded for t in knowledge.harvest_tasks(spec.producer, streams)):
            harvested.update(_expected_files(knowledge, spec.input_tags))
        workflows.append(
            WorkflowScope(
                name=name,
                producer=spec.producer,
                input_tags=spec.input_tags,
                time_type=spec.time_type,
                destination_tags=tuple(sorted(tags)),
                dqm_folder=spec.dqm_folder,
                streams=streams,
                harvest_mark=_harvest_mark(knowledge, spec.producer, files, streams),
            )
        )
        # A log whose words fit nothing known is asked again: it may still grow, and a
        # wording learnt later (a setting, then a restart) classifies it.
        settled = {
            (r.input_tag, r.uuid)
            for r in knowledge.upload_results(spec.input_tags)
            if r.outcome not in (UploadOutcome.PENDING, UploadOutcome.NOT_KNOWN)
        }
        marker_tags = {(m.input_tag, m.uuid): m.destination_tags for m in markers}
        uploads.extend(
            UploadScope(f.input_tag, f.uuid, f.upload_hash, marker_tags[(f.input_tag, f.uuid)])
            for f in files
            if f.upload_hash
            and (f.input_tag, f.uuid) in marker_tags
            and (f.input_tag, f.uuid) not in settled
        )
    era = next((c.acq_era for c in configs if c.acq_era), None)
    streams = tuple(sorted({c.stream for c in configs}))
    return RunScope(
        run=knowledge.run,
        stopped=info is not None and info.stop is not None,
        streams=streams,
        acq_era=era,
        proc_versions=tuple(
            (c.stream, c.proc_version) for c in configs if c.proc_version is not None
        ),
        workflows=tuple(workflows),
        uploads=tuple(uploads),
        done_streams=tuple(s for s in streams if knowledge.stream_done(s)),
        harvest_outputs=harvest_output_names(
            lfn for job in knowledge.table.facts_of(HarvestJob) for lfn in job.outputs
        ),
        open_problems=tuple(
            sorted(
                (p.source.value, p.item) for p in knowledge.table.facts_of(ItemProblem) if p.open
            )
        ),
        finished_harvests=tuple(finished[tag] for tag in sorted(finished)),
        harvested_tags=tuple(sorted(harvested)),
        start_year=info.start.year if info is not None and info.start is not None else None,
    )


def _expected_files(knowledge: RunKnowledge, input_tags: tuple[str, ...]) -> Iterable[str]:
    """The input tags of a harvest with a succeeded job whose files are still to be found:
    no file known, and no listing found none since the task's latest report."""
    for tag in input_tags:
        if knowledge.harvest_files([tag]) or knowledge.no_harvest_file(tag) is not None:
            continue
        yield tag


def _finished_harvests(
    knowledge: RunKnowledge, producer: str, input_tags: tuple[str, ...], streams: Iterable[str]
) -> Iterable[FinishedHarvest]:
    """The input tags whose producer's harvest task is reported finished without failure,
    with no file known and no absence checked by a listing since that report."""
    # The same reading of the task reports as the lifecycle's (``harvest_over_received``).
    reported = knowledge.harvest_over_received(producer, streams)
    if reported is None:
        return
    for tag in input_tags:
        if knowledge.harvest_files([tag]) or knowledge.listed_without(tag, reported):
            continue
        yield FinishedHarvest(tag, reported)


def harvest_output_names(lfns: Iterable[str]) -> tuple[str, ...]:
    """``"<year>/<file name>"`` of each harvest file among ``lfns``, sorted and unique.

    An LFN ends ``.../<year>/Run<run>@<inputTag>@<uuid>.<kind>``; anything else (the
    ``/no/output`` of a harvest that wrote nothing, a file in another layout) names no file
    of the harvest area, so it is left out rather than guessed at.
    """
    names = set()
    for lfn in lfns:
        parent, _, name = lfn.rpartition("/")
        year = parent.rpartition("/")[2]
        if (
            len(year) == 4
            and year.isascii()
            and year.isdigit()
            and HARVEST_FILE_NAME.fullmatch(name)
        ):
            names.add(f"{year}/{name}")
    return tuple(sorted(names))


def _harvest_mark(
    knowledge: RunKnowledge, producer: str, files: Iterable[HarvestFile], streams: Iterable[str]
) -> tuple[str, ...]:
    # The harvested files when there are any (a new one is a new harvest); else the harvest
    # jobs and the producer's task, whose end without output is a harvest that wrote nothing.
    harvested = tuple(sorted(f"file {f.input_tag} {f.uuid}" for f in files))
    if harvested:
        return harvested
    streams = tuple(streams)
    jobs = (f"job {j.stream} {j.state.value}" for j in knowledge.harvest_jobs(streams))
    tasks = (
        f"task {t.stream} {'over' if t.finished_ok else 'going'}"
        for t in knowledge.harvest_tasks(producer, streams)
    )
    return tuple(sorted((*jobs, *tasks)))


def poll_scope(
    knowledge: Knowledge,
    open_runs: Iterable[int],
    catalogue: Catalogue,
    policy: Policy,
    now: datetime,
    prompt_global_tags: Iterable[str] = (),
    *,
    highest_known_run: int | None = None,
    known_scopes: Mapping[int, RunScope] | None = None,
) -> PollScope:
    """``highest_known_run`` counts runs no longer held in ``knowledge`` (evicted final runs),
    so that discovery never goes back to runs the agency has already closed. ``known_scopes``
    holds run scopes still valid (their run learnt nothing since): they are not rebuilt."""
    known = known_scopes or {}
    runs = tuple(
        known.get(run) or run_scope(knowledge.run(run), catalogue, policy)
        for run in sorted(set(open_runs))
    )
    highest = max(knowledge.runs) if knowledge.runs else None
    if highest_known_run is not None:
        highest = max(highest_known_run, highest) if highest is not None else highest_known_run
    tags = set(prompt_global_tags)
    for run in runs:
        released = knowledge.run(run.run).released
        if released and released.prompt_global_tag:
            tags.add(released.prompt_global_tag)
    return PollScope(
        now=now,
        runs=runs,
        highest_known_run=highest,
        prompt_global_tags=tuple(sorted(tags)),
    )
