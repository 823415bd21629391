"""Shared helpers of the bench scripts: realistic run histories, robust statistics, ports.

A run history here is what the spies would report about one healthy collisions run whose
every Express calibration was harvested, uploaded and proven: run metadata, the express
configuration, the stream completion, per workflow the harvested file, its upload marker, the
upload log result, one IOV per destination tag with the harvested payload, the DQM result and
the harvest job; optionally the PromptReco release and the FCSR moving past the run.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import socket
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

import httpx2

from spyagency.domain.catalogue import Catalogue, WorkflowSpec
from spyagency.domain.facts import (
    DqmQuality,
    ExpressConfig,
    Fact,
    FirstConditionSafeRun,
    HarvestFile,
    HarvestJob,
    IovSeen,
    RecoReleased,
    RunInfo,
    StreamDone,
    UploadMarker,
    UploadResult,
)
from spyagency.domain.iov import TimeType
from spyagency.domain.observation import Observation
from spyagency.domain.states import DqmStatus, HarvestJobState, Source, UploadOutcome

COSMICS_STREAM = "ExpressCosmics"
ERA = "Run2026A"
EXPRESS_GT = "140X_dataRun3_Express_v3"
PROMPT_GT = "140X_dataRun3_Prompt_v3"
COMPONENTS = ("PIXEL", "TRACKER", "ECAL", "HCAL", "DT", "CSC", "RPC", "CTPPS")
HOUR = timedelta(hours=1)


def collision_workflows(catalogue: Catalogue) -> dict[str, list[WorkflowSpec]]:
    """Per express stream of a collisions run, the workflows it feeds (cosmics aside)."""
    streams: dict[str, list[WorkflowSpec]] = {}
    for spec in catalogue.workflows:
        for stream in spec.streams:
            if stream != COSMICS_STREAM:
                streams.setdefault(stream, []).append(spec)
    return streams


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def since_of(run: int, time_type: TimeType) -> int:
    """By-lumi tags start at lumi 1 of the run: ``(run << 32) | 1``."""
    return (run << 32) | 1 if time_type is TimeType.LUMI else run


def proven_run_facts(
    run: int, stop: datetime, catalogue: Catalogue
) -> list[tuple[Source, timedelta, Fact, datetime | None]]:
    """(source, delay after stop, fact, fact time) of one run proven in every workflow."""
    streams = collision_workflows(catalogue)
    start = stop - 2 * HOUR
    facts: list[tuple[Source, timedelta, Fact, datetime | None]] = [
        (Source.OMS, timedelta(0), _run_info(run, start, stop), None),
    ]
    for stream, specs in streams.items():
        producers = tuple(sorted({spec.producer for spec in specs}))
        config = ExpressConfig(run, stream, producers, EXPRESS_GT, ERA)
        job = HarvestJob(run, stream, HarvestJobState.SUCCESS, producers)
        facts.append((Source.TIER0, timedelta(0), config, None))
        facts.append((Source.TIER0, HOUR, StreamDone(run, stream, True), None))
        facts.append((Source.WMSTATS, HOUR * 1.5, job, None))
    specs = [spec for specs in streams.values() for spec in specs]
    for index, spec in enumerate(dict.fromkeys(specs)):
        harvested = stop + HOUR * 1.5 + timedelta(minutes=index)
        uploaded = harvested + timedelta(minutes=15)
        uuid = sha1(f"{run}-{spec.name}")[:32]
        payload = sha1(f"payload {run} {spec.name}")
        tags = spec.destination_tags
        for input_tag in spec.input_tags:
            harvest = HarvestFile(
                run,
                input_tag,
                uuid,
                harvested,
                (payload,),
                tags,
                run if spec.time_type is TimeType.RUN else None,
                sha1(f"file {run} {input_tag}"),
            )
            facts.append((Source.HARVEST, harvested - stop, harvest, harvested))
            marker = UploadMarker(run, input_tag, uuid, uploaded, tags)
            facts.append((Source.HARVEST, uploaded - stop, marker, uploaded))
            for tag in tags:
                # The log says "Processing" first, then "Finished": two facts, both news.
                pending = UploadResult(run, input_tag, uuid, tag, UploadOutcome.PENDING)
                facts.append((Source.UPLOAD_LOG, uploaded - stop, pending, None))
                result = UploadResult(run, input_tag, uuid, tag, UploadOutcome.OK, "Finished")
                facts.append((Source.UPLOAD_LOG, uploaded - stop + HOUR / 6, result, None))
        for tag in tags:
            inserted = uploaded + timedelta(minutes=5)
            iov = IovSeen(
                run, tag, spec.time_type, since_of(run, spec.time_type), inserted, payload
            )
            facts.append((Source.CONDDB, inserted - stop + HOUR / 6, iov, inserted))
        if spec.dqm_folder:
            dqm = DqmQuality(run, spec.name, DqmStatus.OK)
            facts.append((Source.DQM, harvested - stop + HOUR / 2, dqm, None))
    return facts


def _run_info(run: int, start: datetime, stop: datetime) -> RunInfo:
    return RunInfo(
        run,
        start,
        stop,
        fill=run // 10,
        run_class="Collisions26",
        b_field=3.8,
        components=COMPONENTS,
        stable_beam=True,
        sequence="GLOBAL-RUN",
    )


def proven_run(run: int, stop: datetime, catalogue: Catalogue) -> list[Observation]:
    """One run's observations, each observed when the spies would first have seen it."""
    return [
        Observation(source, stop + delay, fact, _raw(fact), fact_time)
        for source, delay, fact, fact_time in proven_run_facts(run, stop, catalogue)
    ]


def released_run(run: int, stop: datetime) -> list[Observation]:
    """The Tier-0 locking the run (FCSR moves past it) and releasing PromptReco."""
    released = stop + timedelta(hours=48)
    return [
        Observation(Source.TIER0, released - HOUR / 2, FirstConditionSafeRun(run + 1), "{}"),
        Observation(Source.TIER0, released, RecoReleased(run, PROMPT_GT, ("ZeroBias",)), "{}"),
    ]


def _raw(fact: Fact) -> str:
    """A raw evidence text of the size a spy keeps (the answer row it parsed)."""
    return f'{{"kind": "{fact.kind}", "row": "{fact!r}"}}'


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1) of a non-empty sample."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def app_in_child(serve: Callable[[str, int], None], url: str) -> Iterator[str]:
    """``serve(url, port)`` (the app behind uvicorn) in a spawned child process: yields the
    base URL once ``/healthz`` answers, and stops the child when done."""
    port = free_port()
    child = multiprocessing.get_context("spawn").Process(target=serve, args=(url, port))
    child.start()
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                httpx2.get(base + "/healthz", timeout=1).raise_for_status()
                break
            except httpx2.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        child.terminate()
        child.join(10)
