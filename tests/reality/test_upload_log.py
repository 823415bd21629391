"""The upload-log spy on the shapes the real logs service answers (fixtures/upload_log/README.md
names the code behind each): plain-text logs (ok, failed, in progress at 2999, too late, not
classifiable) and HTTP 500 for a hash it does not know."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx2

from spyagency.domain.facts import ItemProblem, UploadResult
from spyagency.domain.states import UploadOutcome
from spyagency.spies.scope import PollScope, RunScope, UploadScope
from spyagency.spies.upload_log import UploadLogSpy, upload_item
from tests.spies.fakes import NOW, facts_of, fast_settings, fixed_clock

FIXTURES = Path(__file__).parent / "fixtures" / "upload_log"
BASE = "https://cms-conddb-prod.cern.ch/logs/dropBox/"
DEST = "SiStripApvGain_PCL_v0_prompt"
CASES = {
    "ok.log": UploadOutcome.OK,
    "failed.log": UploadOutcome.ERROR,
    "in_progress.log": UploadOutcome.PENDING,
    "too_late.log": UploadOutcome.REJECTED_LATE,
    "not_known.log": UploadOutcome.NOT_KNOWN,
}


def upload_hash(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


def upload(name: str, *tags: str) -> UploadScope:
    return UploadScope("SiStripApvGain_pcl", name, upload_hash(name), tags)


class LogsService:
    """The logs service over the fixtures: text for known hashes, the 500 page otherwise."""

    def __init__(self, logs: dict[str, str]) -> None:
        self.logs = {upload_hash(name): fixture for name, fixture in logs.items()}
        self.down = False
        self.asked: list[str] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        file_hash = request.url.params["fileHash"]
        self.asked.append(file_hash)
        fixture = self.logs.get(file_hash)
        if fixture is None or self.down:
            page = (FIXTURES / "unknown_hash_500.html").read_text()
            return httpx2.Response(500, text=page, headers={"Content-Type": "text/html"})
        text = (FIXTURES / fixture).read_text().replace("HASH", file_hash)
        return httpx2.Response(200, text=text, headers={"Content-Type": "text/plain"})


def spy_for(service: LogsService) -> UploadLogSpy:
    return UploadLogSpy(
        BASE,
        transport=httpx2.MockTransport(service),
        clock=fixed_clock,
        settings=fast_settings(attempts=1),
    )


async def test_each_log_shape_is_classified() -> None:
    service = LogsService({fixture: fixture for fixture in CASES})
    uploads = (*(upload(fixture, DEST) for fixture in CASES), upload("unseen", DEST))
    scope = PollScope(now=NOW, runs=(RunScope(380000, True, uploads=uploads),))
    async with spy_for(service) as spy:
        report = await spy.poll(scope)
    assert report.ok and report.errors == []
    found = {r.uuid: r for r in facts_of(report, UploadResult)}
    assert {uuid: r.outcome for uuid, r in found.items()} == CASES  # "unseen": nothing
    assert all(r.tag == DEST and r.run == 380000 for r in found.values())
    assert "Cannot synchronize to PCL" in found["too_late.log"].info
    assert "exportation failed" in found["failed.log"].info
    late = next(o for o in report.observations if o.fact == found["too_late.log"])
    assert late.raw == (FIXTURES / "too_late.log").read_text().replace(
        "HASH", upload_hash("too_late.log")
    )


async def test_tags_come_from_the_log_when_the_marker_gave_none() -> None:
    service = LogsService({"ok": "ok.log"})
    scope = PollScope(now=NOW, runs=(RunScope(380000, True, uploads=(upload("ok"),)),))
    async with spy_for(service) as spy:
        report = await spy.poll(scope)
    assert [(r.tag, r.outcome) for r in facts_of(report, UploadResult)] == [
        (DEST, UploadOutcome.OK)
    ]


async def test_a_log_naming_no_tag_is_an_item_problem() -> None:
    service = LogsService({"odd": "not_known.log", "ok": "ok.log"})
    run = RunScope(380000, True, uploads=(upload("odd"), upload("ok", DEST)))
    async with spy_for(service) as spy:
        report = await spy.poll(PollScope(now=NOW, runs=(run,)))
    assert report.ok
    (problem,) = facts_of(report, ItemProblem)
    assert problem.item == upload_item(upload("odd")) and problem.input_tag == "SiStripApvGain_pcl"
    assert [r.outcome for r in facts_of(report, UploadResult)] == [UploadOutcome.OK]


async def test_unknown_hashes_prove_nothing_until_a_known_log_fails_too() -> None:
    service = LogsService({"ok": "ok.log"})
    first = PollScope(now=NOW, runs=(RunScope(380000, True, uploads=(upload("ok", DEST),)),))
    later = PollScope(now=NOW, runs=(RunScope(380001, True, uploads=(upload("new", DEST),)),))
    async with spy_for(service) as spy:
        assert (await spy.poll(later)).errors == []  # nothing known yet: no evidence
        assert (await spy.poll(first)).ok
        quiet = await spy.poll(later)  # a new upload not processed yet
        assert quiet.errors == [] and quiet.observations == []
        service.down = True
        down = await spy.poll(later)
    assert not down.ok and "even one served before" in down.source_errors[0].message
    assert service.asked[-1] == upload_hash("ok")  # the log served before was asked again
