"""The harvest spy looks for the files WMStats names instead of listing the year folder.

A year folder holds every output of the year; between full listings the spy stats only the
files the scope names and the missing files of the outputs it knows for runs in scope. What it
asks of the file system is measured from outside it (``FileSystemWatch``).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

from spyagency.domain.facts import HarvestFile, UploadMarker
from spyagency.spies.harvest_area import HarvestAreaSpy
from tests.spies.condb_files import set_mtime, write_marker
from tests.spies.fakes import NOW, fixed_clock
from tests.spies.file_system_calls import FileSystemWatch
from tests.spies.test_harvest_area_listing import (
    CREATED,
    DEST,
    TAG,
    harvest,
    marker_name,
    named_outputs,
    runs_of,
    scope,
    set_folder_mtime,
    settle,
)

UUID = "a1b2c3d4-0001"


def names(entries: tuple[str, ...]) -> set[str]:
    """The file names of ``<year>/<file name>`` entries."""
    return {entry.partition("/")[2] for entry in entries}


async def listed_spy(root: Path) -> tuple[HarvestAreaSpy, FileSystemWatch]:
    """A spy that has listed the year folder once (one harvested run, 380000), and the watch
    of its polls (that listing is the first)."""
    harvest(root, 380000)
    settle(root / "2026")
    spy = HarvestAreaSpy(root, clock=fixed_clock)
    files = FileSystemWatch(root)
    assert runs_of(await files.poll(spy, scope(380000, 380001))) == [380000]
    assert files.polls_listing("2026") == [1]
    return spy, files


async def test_named_file_is_read_without_listing(tmp_path: Path) -> None:
    spy, files = await listed_spy(tmp_path)
    db = harvest(tmp_path, 380001)  # the folder changed
    named = named_outputs(db)
    report = await files.poll(spy, scope(380000, 380001, named={380001: named}))
    assert [type(o.fact) for o in report.observations] == [HarvestFile]
    assert runs_of(report) == [380001] and report.errors == []
    assert files.polls_listing("2026") == [1]
    assert names(named) <= files.last.names_looked_up()
    assert files.last.files_read() == names(named)
    # Found by name, it joined the cached listing: later polls know it without the name.
    again = await files.poll(spy, scope(380000, 380001))
    assert again.observations == [] and again.errors == []
    assert files.polls_listing("2026") == [1]


async def test_unnamed_file_waits_for_the_next_full_listing(tmp_path: Path) -> None:
    spy, files = await listed_spy(tmp_path)
    harvest(tmp_path, 380001)  # written by hand, or while WMStats could not be asked
    found_at = []
    for poll in range(1, spy.full_listing_every + 1):
        if runs_of(await files.poll(spy, scope(380000, 380001))):
            found_at.append(poll)
    # Seen by the poll that lists the folder again: the ``full_listing_every``-th since.
    assert found_at == [spy.full_listing_every]
    assert files.polls_listing("2026") == [1, 1 + spy.full_listing_every]


async def test_probe_is_no_listing_of_the_changed_folder(tmp_path: Path) -> None:
    spy, files = await listed_spy(tmp_path)
    first = harvest(tmp_path, 380001, uuid="a1b2c3d4-0002")
    quiet = settle(tmp_path / "2026")  # the changed folder looks settled again
    named = {380001: named_outputs(first)}
    assert runs_of(await files.poll(spy, scope(380000, 380001, named=named))) == [380001]
    assert marker_name(380000) in files.last.names_missing()  # the folder is probed
    # A file whose arrival kept the folder as the probe saw it: had the probe counted as a
    # listing of that folder, this poll would skip probing it and miss what it lacks.
    second = harvest(tmp_path, 380001, uuid="a1b2c3d4-0003")
    set_folder_mtime(tmp_path / "2026", quiet)
    named = {380001: named_outputs(first) + named_outputs(second)}
    assert runs_of(await files.poll(spy, scope(380000, 380001, named=named))) == [380001]
    assert files.polls_listing("2026") == [1]
    assert marker_name(380000) in files.last.names_missing()  # probed again


async def test_marker_of_a_known_output_is_found_without_listing(tmp_path: Path) -> None:
    spy, files = await listed_spy(tmp_path)
    db = harvest(tmp_path, 380001)
    named = {380001: named_outputs(db)}
    await files.poll(spy, scope(380000, 380001, named=named))
    # WMStats never names the marker: it is looked for beside every output in scope, for
    # the output read by name (380001) as for the one listed (380000).
    attempted = CREATED + timedelta(minutes=5)
    write_marker(tmp_path / "2026", 380001, TAG, UUID, [DEST], attempted)
    write_marker(tmp_path / "2026", 380000, TAG, UUID, [DEST], attempted)
    report = await files.poll(spy, scope(380000, 380001, named=named))
    assert [o.fact for o in report.observations] == [
        UploadMarker(380000, TAG, UUID, attempted, (DEST,)),
        UploadMarker(380001, TAG, UUID, attempted, (DEST,)),
    ]
    assert files.polls_listing("2026") == [1]


async def test_half_named_output_then_its_partner(tmp_path: Path) -> None:
    spy, files = await listed_spy(tmp_path)
    db = harvest(tmp_path, 380001)
    txt = db.with_suffix(".txt")
    text = txt.read_text()
    txt.unlink()  # the db is there, its metadata still being written
    named = {380001: named_outputs(db)}
    half = await files.poll(spy, scope(380000, 380001, named=named))
    assert half.observations == [] and half.errors == []
    assert txt.name in files.last.names_missing()
    txt.write_text(text)
    set_mtime(txt, CREATED)
    report = await files.poll(spy, scope(380000, 380001, named=named))
    assert runs_of(report) == [380001]
    assert files.polls_listing("2026") == [1]


async def test_named_file_not_written_yet_is_no_error(tmp_path: Path) -> None:
    spy, files = await listed_spy(tmp_path)
    stem = f"Run380001@{TAG}@{UUID}"
    named = {380001: (f"2026/{stem}.db", f"2026/{stem}.txt", f"2031/{stem}.db")}
    set_folder_mtime(tmp_path / "2026", 0)  # changed, as far as the spy can tell
    for _ in range(3):
        report = await files.poll(spy, scope(380000, 380001, named=named))
        assert report.observations == [] and report.errors == []
        assert {f"{stem}.db", f"{stem}.txt"} <= files.last.names_missing()
    harvest(tmp_path, 380001)
    assert runs_of(await files.poll(spy, scope(380000, 380001, named=named))) == [380001]
    assert files.polls_listing("2026") == [1]


async def test_restart_lists_even_with_names(tmp_path: Path) -> None:
    db = harvest(tmp_path, 380001)
    settle(tmp_path / "2026")
    named = {380001: named_outputs(db)}
    before = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    await before.poll(scope(380001, named=named))
    after = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    files = FileSystemWatch(tmp_path)
    assert runs_of(await files.poll(after, scope(380001, named=named))) == [380001]
    # Listed, so nothing is looked for by name: the listing shows what is there.
    assert files.polls_listing("2026") == [1] and files.last.missing == []


async def test_named_file_is_found_even_when_the_folder_seems_unchanged(tmp_path: Path) -> None:
    # A filesystem that does not move a folder's mtime when a file arrives must not hide a
    # file WMStats names until the next full listing.
    spy, files = await listed_spy(tmp_path)
    quiet = (tmp_path / "2026").stat().st_mtime_ns
    db = harvest(tmp_path, 380001)
    set_folder_mtime(tmp_path / "2026", quiet)
    named = named_outputs(db)
    report = await files.poll(spy, scope(380000, 380001, named={380001: named}))
    assert runs_of(report) == [380001] and files.polls_listing("2026") == [1]
    assert names(named) <= files.last.names_looked_up()


async def test_full_listings_grow_rarer_as_the_folder_fills(tmp_path: Path) -> None:
    # A listing costs in proportion to the folder: once the folder holds more names than
    # ``listing_names_per_cycle`` per ``full_listing_every`` cycles, it is listed once per
    # that many names, so no cycle pays more than that many names on average.
    spy, files = await listed_spy(tmp_path)
    spy.listing_names_per_cycle = 2
    for run in range(380001, 380016):
        harvest(tmp_path, run)  # 2 names each: the folder holds 32 names
    for _ in range(1, 40):
        await files.poll(spy, scope(380000, 380001))
    # The first listing (10 polls after the first) sees 32 names: the next is due 32 / 2 = 16
    # polls later.
    every = spy.full_listing_every
    assert files.polls_listing("2026") == [1, 1 + every, 1 + every + 16]


def young_harvest(root: Path, run: int) -> Path:
    """A harvest written ten minutes before the poll (``NOW``)."""
    db = harvest(root, run)
    for path in (db, db.with_suffix(".txt")):
        set_mtime(path, NOW - timedelta(minutes=10))
    return db


async def test_a_young_output_nobody_names_waits_until_named(tmp_path: Path) -> None:
    spy, files = await listed_spy(tmp_path)
    db = young_harvest(tmp_path, 380001)
    for _ in range(spy.full_listing_every):  # the last of these lists the folder again
        report = await files.poll(spy, scope(380000, 380001))
        assert report.observations == [] and report.errors == []
    # Seen by the listing, and still not reported.
    assert files.polls_listing("2026") == [1, 1 + spy.full_listing_every]
    named = await files.poll(spy, scope(380000, 380001, named={380001: named_outputs(db)}))
    assert runs_of(named) == [380001]


async def test_an_output_nobody_names_is_reported_once_older_than_the_grace(
    tmp_path: Path,
) -> None:
    spy, _files = await listed_spy(tmp_path)
    young_harvest(tmp_path, 380001)
    later = dataclasses.replace(
        scope(380000, 380001), now=NOW + timedelta(seconds=spy.unnamed_grace_ns / 1e9)
    )
    reported_at = []
    for poll in range(1, spy.full_listing_every + 1):
        if runs_of(await spy.poll(later)):
            reported_at.append(poll)
    assert reported_at == [spy.full_listing_every]  # at the listing that sees it


async def test_a_restart_reports_the_same_outputs_at_the_same_polls(tmp_path: Path) -> None:
    # A restarted spy lists the folder at once, where the uninterrupted one relies on names:
    # what each reports at each poll must still be the same.
    async def polls(restart_at: int | None) -> list[list[int]]:
        root = tmp_path / f"restart-{restart_at}"
        harvest(root, 380000)
        settle(root / "2026")
        spy = HarvestAreaSpy(root, clock=fixed_clock)
        seen = [runs_of(await spy.poll(scope(380000, 380001)))]
        db = young_harvest(root, 380001)  # WMStats names it one poll later
        steps = [scope(380000, 380001), scope(380000, 380001, named={380001: named_outputs(db)})]
        for poll, step in enumerate(steps, start=1):
            if poll == restart_at:
                spy = HarvestAreaSpy(root, clock=fixed_clock)
            report = await spy.poll(step)
            # A restarted spy reads again what it had read (its memory is gone; the engine
            # takes none of it as news): only the new run's reports are compared.
            seen.append([r for r in runs_of(report) if r != 380000 or restart_at is None])
        return seen

    assert await polls(restart_at=1) == await polls(restart_at=None) == [[380000], [], [380001]]
