"""The harvest spy's word on a finished harvest that left no file: only from a full listing of
every year folder made after the harvest was reported over, never from a cached one."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from spyagency.domain.facts import NoHarvestFile
from spyagency.spies.harvest_area import HarvestAreaSpy
from spyagency.spies.scope import FinishedHarvest, PollScope, RunScope
from tests.spies.condb_files import write_harvest
from tests.spies.fakes import NOW, facts_of, fixed_clock
from tests.spies.file_system_calls import FileSystemWatch

RUN = 380000
GAINS = "SiStripApvGain_pcl"
PCC = "LumiPCCCorrections_pcl"
REPORTED = NOW - timedelta(minutes=5)
CREATED = datetime(2026, 5, 31, 22, 15, tzinfo=UTC)


def scope(*finished: str, year: int | None = NOW.year) -> PollScope:
    run = RunScope(
        RUN,
        True,
        finished_harvests=tuple(FinishedHarvest(tag, REPORTED) for tag in finished),
        start_year=year,
    )
    return PollScope(now=NOW, runs=(run,), highest_known_run=RUN + 10)


def harvest(root: Path, tag: str, run: int = RUN, uuid: str = "u1") -> None:
    write_harvest(
        root / str(NOW.year), run, tag, uuid, sinces=[run], tags=["dest"], created=CREATED
    )


async def test_only_the_input_tags_without_any_file_are_reported_absent(tmp_path: Path) -> None:
    harvest(tmp_path, GAINS)
    harvest(tmp_path, PCC, run=RUN + 1)  # another run's file says nothing about this one
    spy = HarvestAreaSpy(tmp_path, clock=fixed_clock)

    report = await spy.poll(scope(GAINS, PCC))

    assert facts_of(report, NoHarvestFile) == [NoHarvestFile(RUN, PCC, after=REPORTED)]


async def test_the_claim_rests_on_a_fresh_listing_not_on_the_cached_one(tmp_path: Path) -> None:
    """A file written after the spy's last listing, in a folder it would not list again yet,
    must still prevent the claim: a finished harvest forces a full listing."""
    harvest(tmp_path, GAINS, run=RUN + 1)
    spy = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    await spy.poll(scope())
    folder = tmp_path / str(NOW.year)
    before = os.stat(folder)
    harvest(tmp_path, PCC)
    # Keep the folder looking unchanged, as a filesystem that does not move a folder's mtime.
    os.utime(folder, ns=(before.st_atime_ns, before.st_mtime_ns))

    report = await spy.poll(scope(PCC))

    assert facts_of(report, NoHarvestFile) == []


async def test_no_claim_when_the_area_cannot_be_listed(tmp_path: Path) -> None:
    spy = HarvestAreaSpy(tmp_path / "not-mounted", clock=fixed_clock)

    report = await spy.poll(scope(PCC))

    assert facts_of(report, NoHarvestFile) == []
    assert report.source_errors


async def test_a_finished_harvest_with_files_forces_no_more_listings(tmp_path: Path) -> None:
    harvest(tmp_path, GAINS)
    spy = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    files = FileSystemWatch(tmp_path)
    await files.poll(spy, scope(GAINS))

    for _ in range(3):
        report = await files.poll(spy, scope(GAINS))
        assert facts_of(report, NoHarvestFile) == []

    assert files.polls_listing(str(NOW.year)) == [1]


async def test_no_claim_when_the_runs_year_folder_is_missing(tmp_path: Path) -> None:
    """Last year's folder listed in full says nothing about a run of this year whose folder
    is not there (not created yet, or not mounted)."""
    harvest(tmp_path, GAINS, run=RUN - 100)
    (tmp_path / str(NOW.year)).rename(tmp_path / str(NOW.year - 1))
    spy = HarvestAreaSpy(tmp_path, clock=fixed_clock)

    assert facts_of(await spy.poll(scope(PCC)), NoHarvestFile) == []
    assert facts_of(await spy.poll(scope(PCC, year=None)), NoHarvestFile) == []
    assert facts_of(await spy.poll(scope(PCC, year=NOW.year - 1)), NoHarvestFile) == [
        NoHarvestFile(RUN, PCC, after=REPORTED)
    ]


async def test_a_succeeded_harvest_without_files_forces_one_listing_only(tmp_path: Path) -> None:
    """Its files were copied before the job ended: one full listing finds them or nothing
    will, so the spy does not list the whole area again every cycle for it."""
    (tmp_path / str(NOW.year)).mkdir()
    spy = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    files = FileSystemWatch(tmp_path)
    run = RunScope(RUN, True, harvested_tags=(PCC,), start_year=None)
    scope = PollScope(now=NOW, runs=(run,), highest_known_run=RUN + 10)
    for _ in range(4):
        await files.poll(spy, scope)
    assert files.polls_listing(str(NOW.year)) == [1]
