"""The harvest spy's memory of its folder listings: skip a listing only when it cannot differ.

What the spy asks of the file system is measured from outside it (``FileSystemWatch``).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from spyagency.domain.facts import HarvestFile, UploadMarker
from spyagency.spies.harvest_area import HarvestAreaSpy
from spyagency.spies.scope import PollScope, RunScope, SpyReport
from tests.spies.condb_files import set_mtime, write_harvest, write_marker
from tests.spies.fakes import NOW, fixed_clock
from tests.spies.file_system_calls import FileSystemWatch

CREATED = datetime(2026, 5, 31, 22, 15, tzinfo=UTC)
DEST = "SiStripApvGain_PCL_v0_prompt"
TAG = "SiStripApvGain_pcl"
MINUTE_NS = 60 * 1_000_000_000


def scope(
    *runs: int, highest: int | None = 380010, named: dict[int, tuple[str, ...]] | None = None
) -> PollScope:
    """Runs in scope; ``named`` gives a run's harvest outputs as WMStats names them."""
    outputs = named or {}
    return PollScope(
        now=NOW,
        runs=tuple(RunScope(r, True, harvest_outputs=outputs.get(r, ())) for r in runs),
        highest_known_run=highest,
    )


def named_outputs(db: Path) -> tuple[str, ...]:
    """How the scope names the output of ``db``: ``<year>/<file name>`` of its db and txt."""
    year = db.parent.name
    return (f"{year}/{db.name}", f"{year}/{db.with_suffix('.txt').name}")


def marker_name(run: int, uuid: str = "a1b2c3d4-0001") -> str:
    """The name of the upload marker of a ``harvest`` output (WMStats never names it)."""
    return f"Run{run}@{TAG}@{uuid}.txt.uploaded"


def harvest(root: Path, run: int, uuid: str = "a1b2c3d4-0001") -> Path:
    db, _ = write_harvest(
        root / "2026", run, TAG, uuid, sinces=[run], tags=[DEST], created=CREATED, since=run
    )
    return db


def set_folder_mtime(folder: Path, mtime_ns: int) -> None:
    os.utime(folder, ns=(mtime_ns, mtime_ns))


def settle(folder: Path) -> int:
    """Age the folder's mtime past the racy margin, as if it was last changed a minute ago."""
    old = time.time_ns() - MINUTE_NS
    set_folder_mtime(folder, old)
    return old


def runs_of(report: SpyReport) -> list[int]:
    """The runs of the harvest files and upload markers a poll reported."""
    facts = [o.fact for o in report.observations]
    return sorted(f.run for f in facts if isinstance(f, HarvestFile | UploadMarker))


async def test_unchanged_settled_folder_is_not_listed_again(tmp_path: Path) -> None:
    harvest(tmp_path, 380000)
    settle(tmp_path / "2026")
    spy = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    files = FileSystemWatch(tmp_path)
    first = await files.poll(spy, scope(380000))
    second = await files.poll(spy, scope(380000))
    third = await files.poll(spy, scope(380000))
    assert runs_of(first) == [380000]
    assert second.observations == [] and second.errors == []
    assert third.observations == [] and third.errors == []
    assert files.polls_listing("2026") == [1]


async def test_new_named_file_is_found_on_the_next_poll(tmp_path: Path) -> None:
    # Was found by listing the folder again; the scope now names it, so no listing is needed.
    harvest(tmp_path, 380000)
    settle(tmp_path / "2026")
    spy = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    files = FileSystemWatch(tmp_path)
    await files.poll(spy, scope(380000, 380001))
    await files.poll(spy, scope(380000, 380001))
    # The folder cannot have changed: nothing is looked for in it.
    assert files.polls_listing("2026") == [1] and files.last.missing == []
    db = harvest(tmp_path, 380001)  # the kernel moves the folder's mtime to now
    named = named_outputs(db)
    report = await files.poll(spy, scope(380000, 380001, named={380001: named}))
    assert runs_of(report) == [380001]
    # The folder changed: the named files are looked up, and the markers of the outputs
    # it knows are looked for, instead of listing the folder again.
    assert files.polls_listing("2026") == [1]
    assert {name.partition("/")[2] for name in named} <= files.last.names_looked_up()
    assert files.last.names_missing() == {marker_name(380000), marker_name(380001)}


async def test_reused_listing_follows_the_scope(tmp_path: Path) -> None:
    harvest(tmp_path, 379000)
    harvest(tmp_path, 380000)
    settle(tmp_path / "2026")
    spy = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    files = FileSystemWatch(tmp_path)
    first = await files.poll(spy, scope(380000))
    assert runs_of(first) == [380000]
    reopened = await files.poll(spy, scope(379000, 380000))
    assert runs_of(reopened) == [379000]
    assert files.polls_listing("2026") == [1]


async def test_racy_listing_is_not_trusted(tmp_path: Path) -> None:
    harvest(tmp_path, 380000)
    folder = tmp_path / "2026"
    recent = time.time_ns()  # within the margin of the listing to come: racy
    set_folder_mtime(folder, recent)
    spy = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    files = FileSystemWatch(tmp_path)
    await files.poll(spy, scope(380000, 380001))
    # A file created in the same timestamp tick as the listing: the folder keeps its mtime.
    db = harvest(tmp_path, 380001)
    set_folder_mtime(folder, recent)
    report = await files.poll(spy, scope(380000, 380001, named={380001: named_outputs(db)}))
    assert runs_of(report) == [380001]
    # Was a second listing; now the untrusted listing is completed by looking for the names
    # and for what the outputs it knows lack.
    assert files.polls_listing("2026") == [1]
    assert marker_name(380000) in files.last.names_missing()


async def test_full_listing_every_n_polls_finds_what_the_mtime_hid(tmp_path: Path) -> None:
    harvest(tmp_path, 380000)
    folder = tmp_path / "2026"
    old = settle(folder)
    spy = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    files = FileSystemWatch(tmp_path)
    await files.poll(spy, scope(380000, 380001))
    # A filesystem that failed to move the folder's mtime: only the full listing sees it.
    harvest(tmp_path, 380001)
    set_folder_mtime(folder, old)
    found: list[int] = []
    for _ in range(spy.full_listing_every):
        found += runs_of(await files.poll(spy, scope(380000, 380001)))
    assert found == [380001]
    assert files.polls_listing("2026") == [1, 1 + spy.full_listing_every]


async def test_file_changed_in_place_is_read_on_the_next_poll(tmp_path: Path) -> None:
    harvest(tmp_path, 380000)
    folder = tmp_path / "2026"
    first_attempt = CREATED + timedelta(minutes=3)
    marker = write_marker(folder, 380000, TAG, "a1b2c3d4-0001", [DEST], first_attempt)
    settle(folder)
    spy = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    files = FileSystemWatch(tmp_path)
    first = await files.poll(spy, scope(380000))
    assert {type(o.fact) for o in first.observations} == {HarvestFile, UploadMarker}
    # The upload is attempted again: the marker is rewritten in place, the folder is unchanged.
    retried = CREATED + timedelta(hours=2)
    marker.write_text(marker.read_text())
    set_mtime(marker, retried)
    report = await files.poll(spy, scope(380000))
    assert [o.fact for o in report.observations] == [
        UploadMarker(380000, TAG, "a1b2c3d4-0001", retried, (DEST,))
    ]
    assert files.polls_listing("2026") == [1] and files.last.files_read() == {marker.name}


async def test_file_that_failed_to_read_is_retried_without_a_listing(tmp_path: Path) -> None:
    txt = harvest(tmp_path, 380000).with_suffix(".txt")
    good_text = txt.read_text()
    txt.write_text(good_text[: len(good_text) // 3])  # half a JSON line
    folder = tmp_path / "2026"
    old = settle(folder)
    spy = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    files = FileSystemWatch(tmp_path)
    failed = await files.poll(spy, scope(380000))
    assert failed.ok and len(failed.errors) == 1 and failed.errors[0].run == 380000
    txt.write_text(good_text)  # finished in place: the folder's mtime does not move
    set_mtime(txt, CREATED)
    set_folder_mtime(folder, old)
    fixed = await files.poll(spy, scope(380000))
    assert fixed.errors == [] and runs_of(fixed) == [380000]
    # An unreadable file is stat'ed and retried every cycle: no listing is needed for it.
    assert files.polls_listing("2026") == [1]


async def test_half_output_has_its_partner_looked_for(tmp_path: Path) -> None:
    db = harvest(tmp_path, 380000)
    txt = db.with_suffix(".txt")
    text = txt.read_text()
    txt.unlink()
    folder = tmp_path / "2026"
    old = settle(folder)
    spy = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    files = FileSystemWatch(tmp_path)
    assert (await files.poll(spy, scope(380000))).observations == []
    txt.write_text(text)  # even if its arrival hid from the folder's mtime
    set_mtime(txt, CREATED)
    set_folder_mtime(folder, old)
    report = await files.poll(spy, scope(380000))
    assert runs_of(report) == [380000]
    # Was a second listing; now the missing partner is looked for by name.
    assert files.polls_listing("2026") == [1] and txt.name in files.last.names_looked_up()


async def test_vanished_names_are_forgotten(tmp_path: Path) -> None:
    db = harvest(tmp_path, 380000)
    harvest(tmp_path, 380001)
    (tmp_path / "2026" / "README").write_text("not a harvest file")
    spy = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    files = FileSystemWatch(tmp_path)
    await files.poll(spy, scope(380000, 380001))
    db.unlink()
    db.with_suffix(".txt").unlink()
    # Between full listings a cached name whose file is gone is stat'ed in vain, harmlessly;
    # the next full listing forgets it.
    for _ in range(spy.full_listing_every):
        report = await files.poll(spy, scope(380000, 380001))
        assert report.observations == [] and report.errors == []
    assert files.polls_listing("2026") == [1, 1 + spy.full_listing_every]
    assert db.name in files.polls[1].names_missing()
    assert db.name not in files.last.names_looked_up()  # forgotten by the listing
    listing = spy._folders.listings[tmp_path / "2026"]
    assert sorted(listing.names) == sorted(p.name for p in (tmp_path / "2026").iterdir())
    assert {stem.run for stem, _ in listing.parsed.values()} == {380001}
    assert listing.runs == [380001]


async def test_restart_lists_everything_again(tmp_path: Path) -> None:
    harvest(tmp_path, 380000)
    settle(tmp_path / "2026")
    before = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    await before.poll(scope(380000))
    after = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    files = FileSystemWatch(tmp_path)
    report = await files.poll(after, scope(380000))
    assert runs_of(report) == [380000]
    assert files.polls_listing("2026") == [1]
