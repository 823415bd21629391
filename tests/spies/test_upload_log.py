from __future__ import annotations

import hashlib

import httpx2
from hypothesis import given
from hypothesis import strategies as st

from spyagency.domain.facts import ItemProblem, UploadResult
from spyagency.domain.states import UploadOutcome
from spyagency.spies.scope import PollScope, RunScope, UploadScope
from spyagency.spies.upload_log import UploadLogSpy
from spyagency.spies.upload_log_rows import (
    LogState,
    classify,
    parse_file_log,
    state_of_code,
)
from tests.spies.fakes import NOW, facts_of, fast_settings, fixed_clock

BASE = "http://conddb.test/logs/dropBox/"
TAG = "SiPixelAliHGCombined_PCL_v0_prompt"


def sha(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


def upload(name: str, *tags: str) -> UploadScope:
    return UploadScope(
        input_tag=name, uuid="a1b2c3d4-0001", upload_hash=sha(name), destination_tags=tags
    )


def log(*lines: str) -> str:
    return "".join(f"[2026-06-01 00:20:00,000] {line}\n" for line in lines)


def test_status_codes_follow_the_backend_convention() -> None:
    assert state_of_code(4999) is LogState.OK
    assert state_of_code(9999) is LogState.OK
    for in_progress in (100, 1000, 2000, 2999, 3999, 4000, 4201, 4299, 4399):
        assert state_of_code(in_progress) is LogState.IN_PROGRESS, in_progress
    for failed in (2010, 2220, 3010, 4110, 4210, 4310, 4410, 4510, 4910, 9910):
        assert state_of_code(failed) is LogState.FAILED, failed
    assert state_of_code(4311) is LogState.WARNING


def test_the_last_status_code_named_wins() -> None:
    h = "b" * 40
    text = log(f"INFO: updating status for {h} to 2999", f"INFO: updating status for {h} to 4210")
    assert parse_file_log(text).status_code == 4210
    assert parse_file_log(log("INFO: statusCode: 4999")).status_code == 4999
    assert parse_file_log("no code here").status_code is None


def test_late_wording_names_the_tags_it_refuses() -> None:
    text = log(
        "INFO: statusCode: 4999",
        f"WARNING: dest tag {TAG}: since 1 is smaller than the first condition safe run 9",
    )
    outcomes = classify(parse_file_log(text), (TAG, "Other_prompt"))
    assert [(t, o) for t, o, _ in outcomes] == [
        (TAG, UploadOutcome.REJECTED_LATE),
        ("Other_prompt", UploadOutcome.OK),
    ]


def test_the_late_wording_is_a_setting() -> None:
    text = log("INFO: statusCode: 4999", "INFO: since below FCSR, refused for pcl")
    assert classify(parse_file_log(text), (TAG,))[0][1] is UploadOutcome.OK
    custom = classify(parse_file_log(text), (TAG,), ("refused for pcl",))
    assert custom[0][1] is UploadOutcome.REJECTED_LATE


def test_naming_the_fcsr_is_not_a_refusal() -> None:
    text = log("INFO: First condition safe run is 380007.", "INFO: statusCode: 4999")
    assert classify(parse_file_log(text), (TAG,))[0][1] is UploadOutcome.OK


def test_words_without_a_code() -> None:
    finished = log("INFO: exportation to pcl done.", "INFO: done handling x")
    assert classify(parse_file_log(finished), (TAG,))[0][1] is UploadOutcome.OK
    unfinished = log("INFO: exportation to pcl done.")
    assert classify(parse_file_log(unfinished), (TAG,))[0][1] is UploadOutcome.NOT_KNOWN
    failed = log("ERROR: something broke", "INFO: done handling x")
    assert classify(parse_file_log(failed), (TAG,))[0][1] is UploadOutcome.ERROR


@given(st.text(max_size=400))
def test_any_text_is_classified_and_never_ok_by_default(text: str) -> None:
    outcomes = classify(parse_file_log(text), (TAG,))
    assert len(outcomes) == 1
    words = text.lower()
    if outcomes[0][1] is UploadOutcome.OK:
        assert "999" in text or ("done" in words or "finished" in words)


async def test_outcomes_per_upload_over_http() -> None:
    texts = {
        sha("gain"): log("INFO: exportation to pcl done.", f"INFO: done handling {sha('gain')}"),
        sha("ali"): log(
            f"INFO: updating status for {sha('ali')} to 4999",
            "INFO: Cannot synchronize to PCL since firstSince < syncValue",
        ),
        sha("quality"): log(
            "ERROR: exportation failed for input tag q to dest tag Q_prompt",
            f"INFO: updating status for {sha('quality')} to 4210",
        ),
        sha("beamspot"): log(f"INFO: updating status for {sha('beamspot')} to 2999"),
    }

    def handler(request: httpx2.Request) -> httpx2.Response:
        text = texts.get(request.url.params["fileHash"])
        if text is None:
            return httpx2.Response(500, text="500 Internal Server Error")
        return httpx2.Response(200, text=text)

    scope = PollScope(
        now=NOW,
        runs=(
            RunScope(
                380000, True, uploads=(upload("gain", "G"), upload("ali", TAG), upload("quality"))
            ),
            RunScope(
                380001, True, uploads=(upload("beamspot", "BS_prompt"), upload("unseen", "U"))
            ),
        ),
    )
    spy = UploadLogSpy(
        BASE, transport=httpx2.MockTransport(handler), clock=fixed_clock, settings=fast_settings()
    )
    async with spy:
        report = await spy.poll(scope)
    assert report.errors == []
    found = {(r.input_tag, r.tag): (r.run, r.outcome) for r in facts_of(report, UploadResult)}
    assert found == {
        ("gain", "G"): (380000, UploadOutcome.OK),
        ("ali", TAG): (380000, UploadOutcome.REJECTED_LATE),
        ("quality", "Q_prompt"): (380000, UploadOutcome.ERROR),
        ("beamspot", "BS_prompt"): (380001, UploadOutcome.PENDING),
    }
    # Four logs, and the unseen hash's 500 retried as any 5xx (fast_settings: 3 attempts).
    assert report.requests == 4 + 3


async def test_faults_cost_one_upload_each() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        file_hash = request.url.params["fileHash"]
        if file_hash == sha("slow"):
            raise httpx2.ReadTimeout("timed out", request=request)
        if file_hash == sha("reset"):
            raise httpx2.ReadError("Connection reset by peer", request=request)
        if file_hash == sha("forbidden"):
            return httpx2.Response(403, text="Forbidden: need a CERN account")
        if file_hash == sha("binary"):
            return httpx2.Response(200, content=b"\xff\xfe\x00garbage")
        return httpx2.Response(200, text=log("INFO: statusCode: 4999"))

    names = ["slow", "reset", "forbidden", "binary", "good"]
    scope = PollScope(
        now=NOW,
        runs=(
            RunScope(380000, True, uploads=tuple(upload(n, "T") for n in names)),
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
    assert [(r.input_tag, r.outcome) for r in facts_of(report, UploadResult)] == [
        ("good", UploadOutcome.OK)
    ]
    (problem,) = facts_of(report, ItemProblem)
    assert problem.run == 380001 and problem.input_tag == "x"
    permanent = {e.message.split(":")[0]: e.permanent for e in report.errors if e.run is None}
    assert permanent == {
        "HTTP 403": True,
        "timeout": False,
        "connection failed": False,
        "answer is not UTF-8 text": False,
    }
    # timeout and reset retried once; 403 and a bad body not.
    assert report.requests == 2 + 2 + 1 + 1 + 1
