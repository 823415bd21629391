"""Every parser and every spy against random and truncated input: no exception escapes, and
an unusable answer is recorded as an error."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spyagency.domain.iov import TimeType
from spyagency.spies import (
    conddb_queries,
    dqm_rows,
    harvest_files,
    oms_rows,
    tier0_rows,
    upload_log_rows,
    wmstats_rows,
)
from spyagency.spies.base import HttpSpy
from spyagency.spies.documents import loads_lenient, loads_strict
from spyagency.spies.dqm import DqmSpy
from spyagency.spies.failures import SchemaViolation
from spyagency.spies.harvest_area import HarvestAreaSpy
from spyagency.spies.oms import OmsRunsSpy
from spyagency.spies.scope import PollScope, RunScope, SpyReport, UploadScope, WorkflowScope
from spyagency.spies.tier0 import T0DataServiceSpy
from spyagency.spies.upload_log import UploadLogSpy
from spyagency.spies.wmstats import WmStatsSpy
from tests.spies.condb_files import metadata_text, set_mtime, write_harvest
from tests.spies.fakes import NOW, fast_settings, fixed_clock, fixture_text

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEYS = st.sampled_from(
    [
        "result",
        "run",
        "stream",
        "alca_skim",
        "global_tag",
        "primary_dataset",
        "acq_era",
        "data",
        "attributes",
        "run_number",
        "start_time",
        "end_time",
        "meta",
        "totalResourceCount",
        "statusCode",
        "itemStatus",
        "status",
        "info",
        "contents",
        "obj",
        "qresults",
        "bins",
        "value",
        "name",
        "Run",
        "Stream",
        "RequestType",
        "samples",
        "output",
        "lfn",
        "errors",
        "details",
        "fileHash",
        "components",
        "b_field",
        "DB updated",
        "PedeExitCode",
        "x",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["380000", "ok", "fail", "2026-06-01T00:00:00Z"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=5), inner, max_size=5)
    ),
    max_leaves=25,
)


def survives(parse: Any, *args: Any) -> None:
    """A parser may refuse its input, but only with a SchemaViolation."""
    with contextlib.suppress(SchemaViolation):
        parse(*args)


@FUZZ
@given(JSON)
def test_json_parsers_raise_only_schema_violations(value: Any) -> None:
    for parse in (
        tier0_rows.parse_fcsr,
        tier0_rows.parse_switch,
        tier0_rows.parse_run_config_row,
        tier0_rows.result_rows,
        oms_rows.parse_page,
        oms_rows.parse_run,
        dqm_rows.summarise_folder,
        wmstats_rows.requests_in,
    ):
        survives(parse, value)
    survives(tier0_rows.parse_express_row, value, 380000, "Run2026A")
    survives(tier0_rows.parse_stream_done, value, 380000, "Express")
    survives(tier0_rows.parse_reco_rows, value, 380000)
    survives(upload_log_rows.parse_file_log, str(value))
    survives(wmstats_rows.summarise_jobdetail, value, "Express_Run380000_StreamExpress")
    survives(wmstats_rows.parse_request, "Express_Run380000_StreamExpress", value)
    for row in value if isinstance(value, list) else [value]:
        survives(
            tier0_rows.parse_express_row,
            {"run": 380000, "stream": "Express", **row} if isinstance(row, dict) else row,
            380000,
            None,
        )
        survives(oms_rows.parse_run, {"attributes": row})
    survives(conddb_queries.to_iov_row, value, value, value)


@FUZZ
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_text_readers_raise_only_schema_violations(text: str) -> None:
    for parse in (loads_strict, loads_lenient, harvest_files.parse_metadata):
        survives(parse, text)
    assert harvest_files.parse_file_name(text) is None or text.startswith("Run")


FIXTURES_BY_SPY = {
    "tier0": "t0_express_config_row.json",
    "oms": "oms_run_attributes.json",
    "upload": "upload_log_ok.json",
    "dqm": "dqm_sipixelali.json",
    "dqm_legacy": "dqm_beamspot_legacy.txt",
    "wmstats": "wmstats_jobdetail_success.json",
}
WORKFLOW = WorkflowScope(
    "SiPixelAli",
    "PromptCalibProdSiPixelAli",
    ("SiPixelAli_pcl",),
    TimeType.RUN,
    ("T",),
    "AlCaReco/SiPixelAli",
    ("Express",),
    harvest_mark=("file harvested u1",),  # harvested: DQM is asked
)
SCOPE = PollScope(
    now=NOW,
    runs=(
        RunScope(
            380000,
            True,
            streams=("Express",),
            acq_era="Run2026A",
            proc_versions=(("Express", 1),),
            workflows=(WORKFLOW,),
            uploads=(UploadScope("SiPixelAli_pcl", "u", "a" * 40, ("T",)),),
        ),
    ),
    highest_known_run=380000,
)


def make_spy(kind: str, body: bytes) -> HttpSpy:
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, content=body))
    options: dict[str, Any] = {
        "transport": transport,
        "clock": fixed_clock,
        "settings": fast_settings(attempts=1),
    }
    spies: dict[str, Any] = {
        "tier0": T0DataServiceSpy,
        "oms": OmsRunsSpy,
        "upload": UploadLogSpy,
        "dqm": DqmSpy,
        "dqm_legacy": DqmSpy,
        "wmstats": WmStatsSpy,
    }
    spy: HttpSpy = spies[kind]("http://fuzz.test/", **options)
    return spy


def poll(spy: HttpSpy) -> SpyReport:
    async def run() -> SpyReport:
        async with spy:
            return await spy.poll(SCOPE)

    return asyncio.run(run())


@FUZZ
@given(st.sampled_from(sorted(FIXTURES_BY_SPY)), st.binary(max_size=400))
def test_spies_survive_random_bytes(kind: str, body: bytes) -> None:
    report = poll(make_spy(kind, body))
    assert not any("internal error" in e.message for e in report.errors)
    if kind == "upload":
        return  # the upload service answers plain text: any text is a (maybe unknown) log
    reader = loads_lenient if kind.startswith("dqm") else loads_strict
    try:
        reader(body.decode("utf-8"))
    except (SchemaViolation, UnicodeDecodeError):
        assert report.errors, "an unreadable answer must be reported"


@FUZZ
@given(st.sampled_from(sorted(FIXTURES_BY_SPY)), st.floats(0, 1))
def test_spies_survive_truncated_documents(kind: str, fraction: float) -> None:
    text = fixture_text(FIXTURES_BY_SPY[kind])
    if kind == "tier0":
        text = json.dumps({"result": [json.loads(text)]})
    elif kind == "oms":
        text = json.dumps({"data": [{"attributes": json.loads(text)}]})
    cut = text[: int(len(text) * fraction)]
    report = poll(make_spy(kind, cut.encode()))
    assert not any("internal error" in e.message for e in report.errors)
    if kind == "upload":
        return  # plain text: a cut log is a log still being written, never an error
    try:
        (loads_lenient if kind.startswith("dqm") else loads_strict)(cut)
    except SchemaViolation:
        assert report.errors


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.binary(max_size=300), st.integers(0, 400))
def test_harvest_area_survives_garbage_files(db_bytes: bytes, txt_bytes: bytes, cut: int) -> None:
    created = datetime(2026, 5, 31, 22, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        db, _ = write_harvest(
            root / "2026",
            380000,
            "A_pcl",
            "u-1",
            sinces=[380000],
            tags=["T"],
            created=created,
            since=380000,
        )
        db.write_bytes(db_bytes)
        db.with_suffix(".txt").write_bytes(txt_bytes)
        for garbage in (db, db.with_suffix(".txt")):
            set_mtime(garbage, created)  # written long before this poll, like a harvest's
        write_harvest(
            root / "2026",
            380000,
            "B_pcl",
            "u-2",
            sinces=[380000],
            tags=["T"],
            created=created,
            since=380000,
        )
        marker = root / "2026" / "Run380000@B_pcl@u-2.txt.uploaded"
        marker.write_text(metadata_text(["T"], "B_pcl", 380000)[:cut])
        spy = HarvestAreaSpy(root, clock=fixed_clock)
        report = asyncio.run(spy.poll(SCOPE))
    kinds = [(type(o.fact).__name__, o.fact.input_tag) for o in report.observations]  # type: ignore[union-attr]
    assert ("HarvestFile", "B_pcl") in kinds  # the good output is never lost
    assert ("HarvestFile", "A_pcl") not in kinds  # garbage is never taken for a harvest
    assert report.errors
