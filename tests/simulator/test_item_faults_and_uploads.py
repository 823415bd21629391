"""Upload rules against the FCSR, and the per-file faults of bad_day, seen in files and CondDB."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from spyagency.simulator.records import FileRecord
from spyagency.simulator.scenario import HOUR, Scenario, load_scenario
from spyagency.simulator.timefmt import sqlite_timestamp
from spyagency.simulator.truth import output_provable_at, world_truth
from spyagency.simulator.uploads import TOO_LATE_WORDING
from spyagency.simulator.world import World


@pytest.fixture(scope="module")
def bad_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    scenario = load_scenario("bad_day")
    world = World(scenario, tmp_path_factory.mktemp("bad_day"))
    world.advance_to(scenario.start + 5 * 24 * HOUR)
    return world


def iov_rows(world: World) -> list[tuple[str, int, str, str]]:
    with sqlite3.connect(world.condb.path) as conn:
        return conn.execute(
            "SELECT TAG_NAME, SINCE, INSERTION_TIME, PAYLOAD_HASH FROM IOV"
        ).fetchall()


def with_fault(world: World, kind: str) -> list[FileRecord]:
    return [f for f in world.files.values() if kind in f.out.faults]


def test_late_pcl_uploads_are_rejected_and_synced_ones_moved(
    quiet: Scenario, tmp_path: Path
) -> None:
    # A replay-like Tier-0 (short delays): most uploads arrive after their run is locked.
    tier0 = dataclasses.replace(
        quiet.tier0, reco_delay_s=1.5 * HOUR, reco_delay_offset_s=0.5 * HOUR
    )
    world = World(quiet.replace(tier0=tier0), tmp_path)
    world.advance_to(quiet.start + 30 * HOUR)
    verdicts = Counter(f.verdict for f in world.files.values())
    assert verdicts["rejected_late"] > 0 and verdicts["moved_to_fcsr"] > 0
    rows = iov_rows(world)
    for record in world.files.values():
        assert record.fcsr_at_upload is not None
        log = world.upload_logs[record.file_hash].to_json()
        tags = record.out.spec.destination_tags
        # One item status per destination tag, all with the same verdict.
        assert set(log["itemStatus"]) == set(tags)
        status, *others = log["itemStatus"].values()
        assert all(other == status for other in others)
        for tag in tags:
            assert f"dest tag {tag}" in log["log"]
        if record.verdict == "rejected_late":
            assert record.out.spec.synchronization == "pcl"
            assert record.out.run < record.fcsr_at_upload
            assert status["status"] == "fail" and TOO_LATE_WORDING in status["info"]
            assert not [r for r in rows if r[3] in {i.payload_hash for i in record.out.iovs}]
        elif record.verdict == "moved_to_fcsr":
            assert record.out.spec.synchronization == "hlt"
            assert record.inserted_at is not None
            stamp = sqlite_timestamp(record.inserted_at)
            for tag in tags:
                moved = [r for r in rows if r[0] == tag and r[2] == stamp]
                assert [r[1] for r in moved] == [record.fcsr_at_upload]
        elif record.verdict == "ok":
            assert status["status"] == "ok"
            assert record.out.run >= record.fcsr_at_upload
    truth = world_truth(world, world.releaser.records, world.faults.injected)
    assert any(run["missed"] for run in truth["runs"]), "late uploads are missed calibrations"


def test_bad_day_has_every_fault(bad_world: World) -> None:
    kinds = {f.kind for f in bad_world.faults.injected}
    for item in (
        "duplicate_harvest",
        "out_of_order_upload",
        "uploaded_never_in_db",
        "iov_wrong_tag",
        "iov_wrong_hash",
        "corrupt_harvest_file",
        "truncated_item",
        "missing_folder",
        "late_item",
    ):
        assert item in kinds
    for window in (
        "http_500",
        "http_503",
        "slow",
        "timeout",
        "reset",
        "malformed_json",
        "truncated_json",
        "legacy_quotes",
        "extra_fields",
        "missing_fields",
        "service_down",
        "condb_locked",
        "condb_unreadable",
        "promptreco_off",
    ):
        assert f"window:{window}" in kinds
    verdicts = Counter(f.verdict for f in bad_world.files.values())
    assert verdicts["rejected_late"] and verdicts["error"] and verdicts["ok"]
    records = [bad_world.releaser.records[n] for n in bad_world.started]
    locks = [r.lock_time for r in records]
    assert None not in locks and locks == sorted(locks), "lock-in in run order"  # type: ignore[type-var]
    for record in records:
        assert record.release_time is not None and record.lock_time is not None
        assert record.release_time >= record.lock_time, "release never before lock-in"
    assert any(j.failed for jobs in bad_world.harvest_jobs.values() for j in jobs)


def test_duplicate_harvest_files(bad_world: World) -> None:
    dup = next(f for f in with_fault(bad_world, "duplicate_harvest") if f.out.duplicate_of)
    folder = bad_world.harvest_dir / "2026"
    same = sorted(folder.glob(f"Run{dup.out.run}@{dup.out.spec.input_tag}@*.db"))
    assert len(same) == 2
    assert len({p.name.split("@")[2] for p in same}) == 2


def test_out_of_order_upload(bad_world: World) -> None:
    late = with_fault(bad_world, "out_of_order_upload")[0]
    later_runs = [
        f
        for f in bad_world.files.values()
        if f.out.spec.input_tag == late.out.spec.input_tag and f.out.run > late.out.run
    ]
    assert later_runs
    marker = bad_world.harvest_dir / "2026" / f"{late.out.file_stem}.txt.uploaded"
    first_later = min(later_runs, key=lambda f: f.out.run)
    later_marker = bad_world.harvest_dir / "2026" / f"{first_later.out.file_stem}.txt.uploaded"
    assert marker.stat().st_mtime > later_marker.stat().st_mtime


def test_uploaded_marker_without_upload(bad_world: World) -> None:
    lost = with_fault(bad_world, "uploaded_never_in_db")[0]
    assert (bad_world.harvest_dir / "2026" / f"{lost.out.file_stem}.txt.uploaded").exists()
    assert lost.file_hash not in bad_world.upload_logs
    hashes = {i.payload_hash for i in lost.out.iovs}
    assert not [r for r in iov_rows(bad_world) if r[3] in hashes]


def test_iov_in_wrong_tag_or_with_wrong_hash(bad_world: World) -> None:
    rows = iov_rows(bad_world)
    wrong_tag = with_fault(bad_world, "iov_wrong_tag")[0]
    hashes = {i.payload_hash for i in wrong_tag.out.iovs}
    tags = {r[0] for r in rows if r[3] in hashes}
    assert tags and not tags & set(wrong_tag.out.spec.destination_tags)
    wrong_hash = with_fault(bad_world, "iov_wrong_hash")[0]
    assert wrong_hash.inserted_at is not None
    stamp = sqlite_timestamp(wrong_hash.inserted_at)
    planned = {i.payload_hash for i in wrong_hash.out.iovs}
    for tag in wrong_hash.out.spec.destination_tags:
        written = [r for r in rows if r[0] == tag and r[2] == stamp]
        assert written and not {r[3] for r in written} & planned
    truth = world_truth(bad_world, bad_world.releaser.records, bad_world.faults.injected)
    by_run = {r["run"]: r for r in truth["runs"]}
    for record in (wrong_tag, wrong_hash):
        required = by_run[record.out.run]["required"]
        row = next(r for r in required if r["input_tag"] == record.out.spec.input_tag)
        assert row["provable_at"] is None, "a wrong IOV never proves the calibration"


def test_a_run_is_covered_only_once_every_destination_tag_holds_it(tmp_path: Path) -> None:
    scenario = load_scenario("quiet_day")
    world = World(scenario, tmp_path)
    gains = next(
        out
        for run in world.plan
        for out in run.all_outputs()
        if out.workflow == "SiStripGains" and not out.upload_error
    )
    hlt, prompt = gains.spec.destination_tags
    world.provable_at = {(gains.run, prompt): 10.0}
    assert output_provable_at(world, gains.run, gains.spec) is None
    world.provable_at[(gains.run, hlt)] = 20.0
    assert output_provable_at(world, gains.run, gains.spec) == 20.0
    # In the running world, both tags get the upload at the same moment.
    world.provable_at = {}
    world.advance_to(gains.upload_at + gains.processing_s + 1)
    record = world.files[gains.key]
    assert record.verdict == "ok", "quiet_day uploads its first gains in time"
    assert record.written_tags == (hlt, prompt)
    assert world.provable_at[(gains.run, hlt)] == world.provable_at[(gains.run, prompt)]
    assert output_provable_at(world, gains.run, gains.spec) == record.inserted_at
