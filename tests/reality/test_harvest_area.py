"""The harvest spy on the shapes the real producers write (fixtures/harvest/README.md names
the code behind each file): the two-line ``.txt``, the bare-JSON ``.txt.uploaded`` marker
(and its legacy prefixed form), a half-written marker, and the upload tarball's hash."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import pytest

from spyagency.domain.facts import HarvestFile, ItemProblem, UploadMarker
from spyagency.domain.states import Source
from spyagency.spies.harvest_area import HarvestAreaSpy
from spyagency.spies.scope import PollScope, RunScope
from tests.spies.condb_files import set_mtime, write_harvest
from tests.spies.fakes import NOW, facts_of, fixed_clock

FIXTURES = Path(__file__).parent / "fixtures" / "harvest"
RUN = 380000
TAG = "SiStripApvGain_pcl"
DEST = "SiStripApvGain_PCL_v0_prompt"
CREATED = datetime(2026, 5, 31, 22, 15, tzinfo=UTC)
ATTEMPTED = CREATED + timedelta(minutes=3)


def scope(open_problems: tuple[tuple[str, str], ...] = ()) -> PollScope:
    run = RunScope(RUN, True, open_problems=open_problems)
    return PollScope(now=NOW, runs=(run,), highest_known_run=RUN + 10)


def harvest_output(root: Path, uuid: str, marker: str | None = None) -> Path:
    """A ``.db`` (CondDB sqlite) with the real ``.txt`` next to it, and a marker fixture."""
    db, _ = write_harvest(
        root / "2026", RUN, TAG, uuid, sinces=[RUN], tags=[DEST], created=CREATED, since=RUN
    )
    txt = db.with_suffix(".txt")
    txt.write_bytes((FIXTURES / "harvest_metadata.txt").read_bytes())
    set_mtime(txt, CREATED)
    if marker is not None:
        path = db.with_name(db.name[: -len(".db")] + ".txt.uploaded")
        path.write_bytes((FIXTURES / marker).read_bytes())
        set_mtime(path, ATTEMPTED)
    return db


def _add_normalised(tar: tarfile.TarFile, handle: BinaryIO, arcname: str) -> None:
    # The upload script's addToTarFile: the header of the real file, then owner, mode and
    # time overwritten so that only the contents count.
    info = tar.gettarinfo(fileobj=handle, arcname=arcname)
    info.mode = 0o400
    info.uid = info.gid = info.mtime = 0
    info.uname = info.gname = "root"
    tar.addfile(info, handle)


def tier0_upload_hash(db: Path, txt: Path, workdir: Path) -> str:
    """Our own reading of dmwm/T0 ``src/python/T0/ConditionUpload/``: ``uploadPayload`` keeps
    the prodMetaData line without its prefix, then ``upload.py`` ``uploadFile`` tars the .db
    as data.db and the metadata (json.load, then json.dump sorted, indent 4, through a named
    temporary file) as metadata.txt into upload.tar.bz2 on disk, and hashes that file."""
    lines = txt.read_text().splitlines(keepends=True)
    chosen = workdir / "metadata.txt"
    chosen.write_text(
        "".join(ln.replace("prodMetaData ", "", 1) for ln in lines if "prepMetaData " not in ln)
    )
    tarball = workdir / "upload.tar.bz2"
    with tarfile.open(tarball, "w:bz2") as tar:
        with db.open("rb") as data:
            _add_normalised(tar, data, "data.db")
        with tempfile.NamedTemporaryFile(mode="w", dir=workdir) as metadata:
            with chosen.open("rb") as original:
                json.dump(json.load(original), metadata, sort_keys=True, indent=4)
            metadata.seek(0)
            with open(metadata.name, "rb") as reader:
                _add_normalised(tar, reader, "metadata.txt")
    return hashlib.sha1(tarball.read_bytes()).hexdigest()


async def test_two_line_txt_and_bare_marker(tmp_path: Path) -> None:
    db = harvest_output(tmp_path / "area", "6f1c2b9e-0001", "marker_bare.txt.uploaded")
    report = await HarvestAreaSpy(tmp_path / "area", clock=fixed_clock).poll(scope())
    assert report.ok and report.errors == []
    (harvested,) = facts_of(report, HarvestFile)
    assert harvested.destination_tags == (DEST,) and harvested.since is None
    assert harvested.file_sha1 == hashlib.sha1(db.read_bytes()).hexdigest()
    assert harvested.upload_hash == tier0_upload_hash(db, db.with_suffix(".txt"), tmp_path)
    assert harvested.upload_hash != harvested.file_sha1
    (marker,) = facts_of(report, UploadMarker)
    assert marker == UploadMarker(RUN, TAG, "6f1c2b9e-0001", ATTEMPTED, (DEST,))


async def test_prefixed_marker_is_still_read(tmp_path: Path) -> None:
    harvest_output(tmp_path, "6f1c2b9e-0002", "marker_prefixed.txt.uploaded")
    report = await HarvestAreaSpy(tmp_path, clock=fixed_clock).poll(scope())
    assert report.errors == []
    assert [m.destination_tags for m in facts_of(report, UploadMarker)] == [(DEST,)]


async def test_half_marker_is_an_item_problem_and_the_rest_is_reported(tmp_path: Path) -> None:
    harvest_output(tmp_path, "6f1c2b9e-0003", "marker_half.txt.uploaded")
    harvest_output(tmp_path, "6f1c2b9e-0004", "marker_bare.txt.uploaded")
    spy = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    report = await spy.poll(scope())
    assert report.ok and report.source_errors == []
    name = f"Run{RUN}@{TAG}@6f1c2b9e-0003.txt.uploaded"
    (problem,) = facts_of(report, ItemProblem)
    assert (problem.run, problem.item, problem.input_tag, problem.open) == (RUN, name, TAG, True)
    (error,) = report.errors
    assert error.run == RUN and error.url is not None and error.url.endswith(name)
    assert error.raw == (FIXTURES / "marker_half.txt.uploaded").read_text()
    assert sorted(f.uuid for f in facts_of(report, HarvestFile)) == [
        "6f1c2b9e-0003",
        "6f1c2b9e-0004",
    ]
    assert [m.uuid for m in facts_of(report, UploadMarker)] == ["6f1c2b9e-0004"]
    # The Tier-0's copy completes: read next cycle, and the open problem is closed.
    marker = tmp_path / "2026" / name
    marker.write_bytes((FIXTURES / "marker_bare.txt.uploaded").read_bytes())
    set_mtime(marker, ATTEMPTED)
    fixed = await spy.poll(scope(open_problems=(("harvest", name),)))
    assert fixed.errors == []
    assert [m.uuid for m in facts_of(fixed, UploadMarker)] == ["6f1c2b9e-0003"]
    (closed,) = facts_of(fixed, ItemProblem)
    assert (closed.item, closed.open, closed.source) == (name, False, Source.HARVEST)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
async def test_unreadable_db_is_an_item_problem(tmp_path: Path) -> None:
    db = harvest_output(tmp_path, "6f1c2b9e-0005")
    db.chmod(0)
    report = await HarvestAreaSpy(tmp_path, clock=fixed_clock).poll(scope())
    assert report.ok and [p.item for p in facts_of(report, ItemProblem)] == [db.name]


async def test_db_that_is_not_sqlite_is_an_item_problem(tmp_path: Path) -> None:
    db = harvest_output(tmp_path, "6f1c2b9e-0006")
    harvest_output(tmp_path, "6f1c2b9e-0007")
    db.write_bytes(b"not a sqlite file, just bytes" * 10)
    set_mtime(db, CREATED)
    report = await HarvestAreaSpy(tmp_path, clock=fixed_clock).poll(scope())
    assert report.ok
    assert [p.item for p in facts_of(report, ItemProblem)] == [db.name]
    assert [f.uuid for f in facts_of(report, HarvestFile)] == ["6f1c2b9e-0007"]


async def test_an_unlistable_area_is_a_source_error(tmp_path: Path) -> None:
    report = await HarvestAreaSpy(tmp_path / "missing", clock=fixed_clock).poll(scope())
    assert not report.ok and report.source_errors
