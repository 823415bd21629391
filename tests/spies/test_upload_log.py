from __future__ import annotations

import hashlib

import httpx2

from spyagency.domain.facts import UploadResult
from spyagency.domain.states import Source, UploadOutcome
from spyagency.spies.scope import PollScope, RunScope, SpyReport, UploadScope
from spyagency.spies.upload_log import UploadLogSpy
from spyagency.spies.upload_log_rows import classify
from tests.spies.fakes import NOW, FakeUploadLogs, asgi, facts_of, fast_settings, fixed_clock

BASE = "http://conddb.test/logs/dropBox/"


def sha(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


def upload(name: str, *tags: str) -> UploadScope:
    return UploadScope(
        input_tag=name, uuid="a1b2c3d4-0001", file_sha1=sha(name), destination_tags=tags
    )


def results(report: SpyReport) -> dict[tuple[str, str], UploadResult]:
    return {(r.input_tag, r.tag): r for r in facts_of(report, UploadResult)}


async def test_outcomes_are_classified_per_tag() -> None:
    fake = FakeUploadLogs(
        {
            sha("gain"): "upload_log_ok.json",
            sha("ali"): "upload_log_late.json",
            sha("quality"): "upload_log_error.json",
            sha("beamspot"): "upload_log_pending.json",
        }
    )
    scope = PollScope(
        now=NOW,
        runs=(
            RunScope(380000, True, uploads=(upload("gain"), upload("ali"), upload("quality"))),
            RunScope(380001, True, uploads=(upload("beamspot", "BS_prompt"), upload("unseen"))),
        ),
    )
    async with UploadLogSpy(BASE, transport=asgi(fake.app()), clock=fixed_clock) as spy:
        report = await spy.poll(scope)
    assert report.errors == [] and report.source is Source.UPLOAD_LOG
    found = results(report)
    assert {k: v.outcome for k, v in found.items()} == {
        ("gain", "SiStripApvGain_PCL_v0_prompt"): UploadOutcome.OK,
        ("ali", "SiPixelAliHGCombined_PCL_v0_prompt"): UploadOutcome.REJECTED_LATE,
        ("quality", "SiPixelQuality_byPCL_prompt_v2"): UploadOutcome.ERROR,
        ("quality", "SiPixelQuality_byPCL_other_v1"): UploadOutcome.ERROR,
        ("beamspot", "BS_prompt"): UploadOutcome.PENDING,
    }
    assert found[("gain", "SiStripApvGain_PCL_v0_prompt")].run == 380000
    assert found[("beamspot", "BS_prompt")].run == 380001
    assert "first condition safe run" in found[("ali", "SiPixelAliHGCombined_PCL_v0_prompt")].info
    gain = next(o for o in report.observations if o.fact.input_tag == "gain")  # type: ignore[union-attr]
    assert gain.raw.startswith("[2026-06-01 00:20:00] Received file")
    assert report.requests == fake.hits.count() == 5  # the unseen file answered 404


def test_classification_rules() -> None:
    assert classify("ok", "") is UploadOutcome.OK
    assert classify("OK ", "anything") is UploadOutcome.OK
    assert (
        classify("fail", "is smaller than the first condition safe run")
        is UploadOutcome.REJECTED_LATE
    )
    assert classify("failed", "Too late for FCSR") is UploadOutcome.REJECTED_LATE
    assert classify("fail", "payload type mismatch") is UploadOutcome.ERROR
    assert classify("skip", "too late") is UploadOutcome.ERROR


async def test_faults_cost_one_file_each() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        file_hash = request.url.params["fileHash"]
        if file_hash == sha("slow"):
            raise httpx2.ReadTimeout("timed out", request=request)
        if file_hash == sha("reset"):
            raise httpx2.ReadError("Connection reset by peer", request=request)
        if file_hash == sha("other"):
            return httpx2.Response(200, json={"fileHash": sha("x"), "statusCode": 2000})
        if file_hash == sha("nocode"):
            return httpx2.Response(200, json={"fileHash": file_hash, "itemStatus": {}})
        if file_hash == sha("forbidden"):
            return httpx2.Response(403, text="Forbidden: need a CERN account")
        body = {
            "fileHash": file_hash,
            "statusCode": 2000,
            "extra": [1, 2],
            "itemStatus": {"T": {"status": "ok", "info": "fine", "more": True}},
        }
        return httpx2.Response(200, json=body)

    names = ["slow", "reset", "other", "nocode", "forbidden", "good"]
    scope = PollScope(
        now=NOW,
        runs=(
            RunScope(380000, True, uploads=tuple(upload(n) for n in names)),
            RunScope(380001, True, uploads=(UploadScope("x", "u", "not-a-hash"),)),
        ),
    )
    spy = UploadLogSpy(
        BASE,
        transport=httpx2.MockTransport(handler),
        clock=fixed_clock,
        settings=fast_settings(attempts=2),
    )
    async with spy:
        report = await spy.poll(scope)
    assert [(o.fact.input_tag, o.fact.outcome) for o in report.observations] == [  # type: ignore[union-attr]
        ("good", UploadOutcome.OK)
    ]
    assert len(report.errors) == 6
    permanent = {e.message.split(":")[0]: e.permanent for e in report.errors}
    assert permanent["HTTP 403"] is True
    assert permanent["timeout"] is False
    assert permanent["connection failed"] is False
    assert permanent["not a sha1 file hash"] is True
    # timeout and reset retried once; 403 and schema errors not.
    assert report.requests == 2 + 2 + 1 + 1 + 1 + 1
