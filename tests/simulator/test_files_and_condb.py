"""Harvest files (.db/.txt/.uploaded) and the CondDB sqlite file, read as the agency reads them."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path

from spyagency.simulator.condb import BASELINE_AGE_S
from spyagency.simulator.condb_schema import TABLES
from spyagency.simulator.iov import run_of_since
from spyagency.simulator.scenario import HOUR, Scenario
from spyagency.simulator.timefmt import parse_iso, sqlite_timestamp
from spyagency.simulator.world import World

CONDDB_COLUMNS = {
    "TAG": [
        "NAME",
        "TIME_TYPE",
        "OBJECT_TYPE",
        "SYNCHRONIZATION",
        "DESCRIPTION",
        "LAST_VALIDATED_TIME",
        "END_OF_VALIDITY",
        "INSERTION_TIME",
        "MODIFICATION_TIME",
        "PROTECTION_CODE",
    ],
    "IOV": ["TAG_NAME", "SINCE", "INSERTION_TIME", "PAYLOAD_HASH"],
    "PAYLOAD": ["HASH", "OBJECT_TYPE", "DATA", "STREAMER_INFO", "VERSION", "INSERTION_TIME"],
    "GLOBAL_TAG": ["NAME", "VALIDITY", "DESCRIPTION", "RELEASE", "INSERTION_TIME", "SNAPSHOT_TIME"],
    "GLOBAL_TAG_MAP": ["GLOBAL_TAG_NAME", "RECORD", "LABEL", "TAG_NAME"],
    "TAG_LOG": [
        "TAG_NAME",
        "EVENT_TIME",
        "ACTION",
        "USER_NAME",
        "HOST_NAME",
        "COMMAND",
        "USER_TEXT",
    ],
    "RUN_INFO": ["RUN_NUMBER", "START_TIME", "END_TIME"],
}


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def test_harvest_files_are_real(quiet: Scenario, tmp_path: Path) -> None:
    world = World(quiet, tmp_path)
    world.advance_to(quiet.start + 24 * HOUR)
    year_dir = tmp_path / "harvest" / "2026"
    dbs = sorted(year_dir.glob("Run*@*@*.db"))
    assert dbs, "harvests wrote files"
    for db in dbs:
        run_text, input_tag, _uuid = db.name.removesuffix(".db").split("@")
        run = int(run_text.removeprefix("Run"))
        record = world.files[db.name.removesuffix(".db")]
        with read_only(db) as conn:
            assert set(TABLES) <= {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            for table, cols in CONDDB_COLUMNS.items():
                assert columns(conn, table) == cols
            (time_type,) = conn.execute(
                "SELECT TIME_TYPE FROM TAG WHERE NAME=?", (input_tag,)
            ).fetchone()
            iovs = conn.execute(
                "SELECT SINCE, PAYLOAD_HASH FROM IOV WHERE TAG_NAME=?", (input_tag,)
            ).fetchall()
            assert iovs
            for since, payload_hash in iovs:
                assert run_of_since(since, time_type.lower()) == run
                (data,) = conn.execute(
                    "SELECT DATA FROM PAYLOAD WHERE HASH=?", (payload_hash,)
                ).fetchone()
                assert hashlib.sha1(data).hexdigest() == payload_hash
            if time_type == "Run":
                assert [s for s, _ in iovs] == [run]
        lines = db.with_suffix(".txt").read_text().splitlines()
        assert [line.split(" ", 1)[0] for line in lines] == ["prepMetaData", "prodMetaData"]
        prod = json.loads(lines[1].split(" ", 1)[1])
        assert set(prod) == {
            "destinationDatabase",
            "destinationTags",
            "inputTag",
            "since",
            "userText",
        }
        assert prod["inputTag"] == input_tag
        assert prod["destinationDatabase"] == "oracle://cms_orcon_prod/CMS_CONDITIONS"
        # Every destination of the output, as its _prod.json lists them.
        assert set(prod["destinationTags"]) == set(record.out.spec.destination_tags)
        assert all(value == {} for value in prod["destinationTags"].values())
        assert db.stat().st_mtime == record.created_at
        # The upload service files its log under the sha1 of the upload tarball, not of the
        # .db (dmwm/T0 ConditionUpload/upload.py): the two differ.
        assert record.file_hash != hashlib.sha1(db.read_bytes()).hexdigest()
        marker = db.with_suffix(".txt.uploaded")
        if record.uploaded_at is not None:
            # The Tier-0 keeps the chosen line without its prefix: one bare JSON line
            # (dmwm/T0 ConditionUpload/ConditionUploadAPI.py, uploadPayload).
            assert json.loads(marker.read_text()) == prod
            assert marker.stat().st_mtime == record.uploaded_at
            assert record.uploaded_at > record.created_at
        else:
            assert not marker.exists()
    assert not list(year_dir.glob(".*")), "no temporary files are left behind"


def test_conddb_schema_global_tag_and_iovs(quiet: Scenario, tmp_path: Path) -> None:
    world = World(quiet, tmp_path)
    world.advance_to(quiet.start + 30 * HOUR)
    gt = quiet.tier0.prompt_global_tag
    with read_only(world.condb.path) as conn:
        for table, cols in CONDDB_COLUMNS.items():
            assert columns(conn, table) == cols
        mapped = {
            r[0]
            for r in conn.execute(
                "SELECT TAG_NAME FROM GLOBAL_TAG_MAP WHERE GLOBAL_TAG_NAME=?", (gt,)
            )
        }
        # The Prompt GT maps one tag per record and label; every destination tag exists.
        outputs = set(world.catalogue.destination_tags().values())
        assert mapped == {out.prompt_gt_tag for out in outputs}
        assert "SiStripApvGain_PCL_v0_prompt" in mapped
        assert "SiStripApvGain_PCL_v0_hlt" not in mapped
        tags = dict(conn.execute("SELECT NAME, SYNCHRONIZATION FROM TAG"))
        assert set(tags) == set(world.catalogue.destination_tags())
        assert tags["SiStripApvGain_PCL_v0_prompt"] == tags["SiStripApvGain_PCL_v0_hlt"] == "pcl"
        rows = conn.execute(
            "SELECT TAG_NAME, SINCE, INSERTION_TIME, PAYLOAD_HASH FROM IOV"
        ).fetchall()
        runs_in_db = {r[0] for r in conn.execute("SELECT RUN_NUMBER FROM RUN_INFO")}
    assert rows and runs_in_db == set(world.started)
    ok = [f for f in world.files.values() if f.verdict == "ok"]
    assert any(len(f.out.spec.destination_tags) > 1 for f in ok), "a two-tag upload was made"
    for record in ok:
        # The payload in the CondDB is the one in the harvested file, inserted at upload time
        # into every destination tag of the output.
        with read_only(tmp_path / "harvest" / "2026" / f"{record.out.file_stem}.db") as conn:
            harvested = {h for (h,) in conn.execute("SELECT PAYLOAD_HASH FROM IOV")}
        assert record.inserted_at is not None
        assert record.written_tags == record.out.spec.destination_tags
        stamp = sqlite_timestamp(record.inserted_at)
        for tag in record.out.spec.destination_tags:
            in_condb = {r[3] for r in rows if r[0] == tag and r[2] == stamp}
            assert in_condb == harvested, tag
    baseline = quiet.start - BASELINE_AGE_S
    baselines = [r for r in rows if parse_iso(r[2]) == baseline]
    # Every destination tag, mapped in the Prompt GT or not, has history from before the
    # simulated day (one baseline IOV).
    assert {r[0] for r in baselines} == set(tags)
    assert len(baselines) == len(tags)
    assert all(r[1] in (1, (1 << 32) | 1) for r in baselines)
    for _, _, inserted, _ in rows:
        assert len(inserted) == len("2026-06-01 12:00:00.000000")
        assert parse_iso(inserted) == baseline or quiet.start <= parse_iso(inserted) <= world.now


def test_concurrent_reader_sees_consistent_conddb(quiet: Scenario, tmp_path: Path) -> None:
    world = World(quiet, tmp_path)
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        try:
            while not done.is_set():
                with read_only(world.condb.path) as conn:
                    conn.execute(
                        "SELECT COUNT(*) FROM IOV JOIN PAYLOAD ON HASH=PAYLOAD_HASH"
                    ).fetchone()
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=reader)
    thread.start()
    world.advance_to(quiet.start + 24 * HOUR)
    done.set()
    thread.join()
    assert not errors


def test_same_seed_same_files_and_timeline(quiet: Scenario, tmp_path: Path) -> None:
    a, b = World(quiet, tmp_path / "a"), World(quiet, tmp_path / "b")
    for world in (a, b):
        world.advance_to(quiet.start + 60 * HOUR)
    names_a = sorted(p.name for p in (tmp_path / "a" / "harvest").rglob("*"))
    names_b = sorted(p.name for p in (tmp_path / "b" / "harvest").rglob("*"))
    assert names_a == names_b
    for name in names_a:
        if name.endswith(".db"):
            pa = next((tmp_path / "a" / "harvest").rglob(name))
            pb = next((tmp_path / "b" / "harvest").rglob(name))
            assert pa.read_bytes() == pb.read_bytes()
            assert pa.stat().st_mtime == pb.stat().st_mtime
    with read_only(a.condb.path) as ca, read_only(b.condb.path) as cb:
        query = "SELECT * FROM IOV ORDER BY TAG_NAME, SINCE, INSERTION_TIME"
        assert ca.execute(query).fetchall() == cb.execute(query).fetchall()
    assert {r: (x.lock_time, x.release_time) for r, x in a.releaser.records.items()} == {
        r: (x.lock_time, x.release_time) for r, x in b.releaser.records.items()
    }
