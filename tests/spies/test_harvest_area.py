from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from spyagency.domain.facts import HarvestFile, ItemProblem, UploadMarker
from spyagency.domain.states import Source
from spyagency.spies.harvest_area import HarvestAreaSpy
from spyagency.spies.harvest_files import parse_metadata
from spyagency.spies.scope import PollScope, RunScope
from tests.spies.condb_files import set_mtime, write_harvest, write_marker
from tests.spies.fakes import NOW, facts_of, fixed_clock
from tests.spies.file_system_calls import FileSystemWatch

CREATED = datetime(2026, 5, 31, 22, 15, tzinfo=UTC)
DEST = "SiStripApvGain_PCL_v0_prompt"


def scope(*runs: int, highest: int | None = 380010) -> PollScope:
    return PollScope(
        now=NOW, runs=tuple(RunScope(r, True) for r in runs), highest_known_run=highest
    )


def harvest(root: Path, run: int, uuid: str = "a1b2c3d4-0001", tag: str = "SiStripApvGain_pcl"):  # type: ignore[no-untyped-def]
    return write_harvest(
        root / "2026", run, tag, uuid, sinces=[run], tags=[DEST], created=CREATED, since=run
    )


async def test_harvested_file_and_marker_are_reported(tmp_path: Path) -> None:
    db, hashes = harvest(tmp_path, 380000)
    attempted = CREATED + timedelta(minutes=3)
    write_marker(
        tmp_path / "2026", 380000, "SiStripApvGain_pcl", "a1b2c3d4-0001", [DEST], attempted
    )
    (tmp_path / "2026" / ".Run380000@X@y.db.part").write_bytes(b"partial")
    (tmp_path / "2026" / "README").write_text("not a harvest file")
    spy = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    report = await spy.poll(scope(380000))
    assert report.errors == []
    assert report.source is Source.HARVEST
    by_kind = {type(o.fact): o for o in report.observations}
    harvested = by_kind[HarvestFile]
    assert harvested.fact == HarvestFile(
        run=380000,
        input_tag="SiStripApvGain_pcl",
        uuid="a1b2c3d4-0001",
        created=CREATED,
        payload_hashes=tuple(hashes),
        destination_tags=(DEST,),
        since=380000,
        file_sha1=hashlib.sha1(db.read_bytes()).hexdigest(),
        upload_hash=harvested.fact.upload_hash,  # tests/reality/test_harvest_area.py checks it
    )
    assert harvested.fact.upload_hash is not None and len(harvested.fact.upload_hash) == 40
    assert harvested.fact_time == CREATED
    assert "prodMetaData" in harvested.raw
    marker = by_kind[UploadMarker]
    assert marker.fact == UploadMarker(
        380000, "SiStripApvGain_pcl", "a1b2c3d4-0001", attempted, (DEST,)
    )
    assert marker.fact_time == attempted


async def test_only_new_or_changed_files_are_read_again(tmp_path: Path) -> None:
    db, _ = harvest(tmp_path, 380000)
    spy = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    files = FileSystemWatch(tmp_path)
    first = await files.poll(spy, scope(380000))
    assert files.last.files_read() == {db.name, db.with_suffix(".txt").name}
    second = await files.poll(spy, scope(380000))
    assert len(first.observations) == 1
    assert second.observations == [] and second.errors == [] and second.requests == 0
    assert files.last.files_read() == set()
    later = CREATED + timedelta(hours=1)
    marker = write_marker(
        tmp_path / "2026", 380000, "SiStripApvGain_pcl", "a1b2c3d4-0001", [DEST], later
    )
    third = await files.poll(spy, scope(380000))
    assert [type(o.fact) for o in third.observations] == [UploadMarker]
    assert files.last.files_read() == {marker.name}


async def test_old_finished_runs_are_ignored_and_new_runs_found(tmp_path: Path) -> None:
    dbs = {run: harvest(tmp_path, run)[0] for run in (379000, 379500, 380000, 380011)}
    spy = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    files = FileSystemWatch(tmp_path)
    report = await files.poll(spy, scope(380000, highest=380010))
    assert sorted(o.fact.run for o in report.observations) == [380000, 380011]  # type: ignore[union-attr]
    # The files of the runs neither open nor new are not even opened.
    read = {name for run in (380000, 380011) for name in (dbs[run].name, f"{dbs[run].stem}.txt")}
    assert files.last.files_read() == read


async def test_duplicate_harvests_are_each_reported(tmp_path: Path) -> None:
    harvest(tmp_path, 380000, uuid="aaaa-1")
    harvest(tmp_path, 380000, uuid="bbbb-2")
    report = await HarvestAreaSpy(tmp_path, clock=fixed_clock).poll(scope(380000))
    assert sorted(o.fact.uuid for o in report.observations) == ["aaaa-1", "bbbb-2"]  # type: ignore[union-attr]


async def test_files_being_written_are_item_problems_then_retried(tmp_path: Path) -> None:
    db, _ = harvest(tmp_path, 380000)
    txt = db.with_suffix(".txt")
    good_text = txt.read_text()
    txt.write_text(good_text[: len(good_text) // 3])  # half a JSON line
    other_db, _ = harvest(tmp_path, 380000, tag="SiPixelAli_pcl")
    good_db = other_db.read_bytes()
    other_db.write_bytes(good_db[:100])  # truncated sqlite file
    spy = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    report = await spy.poll(scope(380000))
    assert report.ok and facts_of(report, HarvestFile) == []
    problems = {p.item: p.input_tag for p in facts_of(report, ItemProblem)}
    assert problems == {txt.name: "SiStripApvGain_pcl", other_db.name: "SiPixelAli_pcl"}
    assert len(report.errors) == 2
    assert all(not e.permanent and e.url and e.run == 380000 for e in report.errors)
    # The writer finishes: the next cycle reads both.
    txt.write_text(good_text)
    set_mtime(txt, CREATED)
    other_db.write_bytes(good_db)
    set_mtime(other_db, CREATED)
    report = await spy.poll(scope(380000))
    assert report.errors == []
    assert sorted(o.fact.input_tag for o in report.observations) == [  # type: ignore[union-attr]
        "SiPixelAli_pcl",
        "SiStripApvGain_pcl",
    ]


async def test_lumi_harvest_without_since_and_missing_partner_file(tmp_path: Path) -> None:
    folder = tmp_path / "2026"
    sinces = [(380000 << 32) | lumi for lumi in (1, 40, 80)]
    write_harvest(
        folder,
        380000,
        "BeamSpotObject_ByLumi",
        "cc-3",
        sinces=sinces,
        tags=["BeamSpotObjects_PCL_byLumi_v0_prompt"],
        created=CREATED,
    )
    lonely, _ = harvest(tmp_path, 380000, uuid="dd-4")
    lonely.with_suffix(".txt").unlink()  # the .txt is not there yet: wait, no error
    report = await HarvestAreaSpy(tmp_path, clock=fixed_clock).poll(scope(380000))
    assert report.errors == []
    (fact,) = [o.fact for o in report.observations]
    assert isinstance(fact, HarvestFile)
    assert fact.since is None and len(fact.payload_hashes) == 3


async def test_old_year_folders_are_not_listed_and_missing_root_is_an_error(tmp_path: Path) -> None:
    write_harvest(
        tmp_path / "2019",
        380000,
        "SiStripApvGain_pcl",
        "ee-5",
        sinces=[380000],
        tags=[DEST],
        created=CREATED,
        since=380000,
    )
    report = await HarvestAreaSpy(tmp_path, clock=fixed_clock).poll(scope(380000))
    assert report.observations == [] and report.errors == []
    missing = await HarvestAreaSpy(tmp_path / "nowhere", clock=fixed_clock).poll(scope(380000))
    assert len(missing.errors) == 1 and "nowhere" in missing.errors[0].message


@given(
    st.lists(st.from_regex(r"[A-Za-z0-9_]{1,20}", fullmatch=True), min_size=1, max_size=3),
    st.none() | st.integers(1, 2**63),
)
def test_metadata_reads_the_same_in_txt_marker_and_legacy_marker(
    tags: list[str], since: int | None
) -> None:
    document = {"destinationTags": {t: {} for t in tags}, "inputTag": "X_pcl", "since": since}
    prod = json.dumps({**document, "destinationDatabase": "oracle://cms_orcon_prod/X"})
    prep = json.dumps({**document, "destinationDatabase": "oracle://cms_orcoff_prep/X"})
    txt = parse_metadata(f"prepMetaData {prep}\nprodMetaData {prod}\n")
    bare = parse_metadata(prod + "\n")
    prefixed = parse_metadata(f"prodMetaData {prod}\n")
    assert txt.prod_json == prod and bare.prod_json is None
    expected = (tuple(dict.fromkeys(tags)), "X_pcl", since)
    for metadata in (txt, bare, prefixed):
        assert (metadata.destination_tags, metadata.input_tag, metadata.since) == expected
