"""Harvests that should have left files in the harvest area: which force a full listing of
every year folder, and which of them that listing shows left none.

When the scope lists finished harvests (``RunScope.finished_harvests``: a producer's task
reported over without failure, no file of an input tag known), the cycle lists every year
folder in full and reports each such input tag that no listed name carries as a
``NoHarvestFile``: the AlcaHarvest job copies its files out before it ends, so a listing made
after its end sees everything it wrote. An input tag with files in that listing waits for the
usual reading and forces no further listing.

An input tag whose harvest task counts a succeeded job (``RunScope.harvested_tags``) forces
one full listing too: a first-try success names no file, so only a listing finds its files.
One listing finds them or nothing will (the periodic listings still watch for a later job's),
so such a tag forces no other.
"""

from __future__ import annotations

from datetime import datetime

from spyagency.domain.facts import NoHarvestFile
from spyagency.spies.harvest_folders import FolderListing
from spyagency.spies.report import Findings
from spyagency.spies.scope import PollScope

HarvestKey = tuple[int, str]  # (run, input tag)


class AbsenceCheck:
    """What the full listings already settled, so that a harvest forces them no longer."""

    def __init__(self) -> None:
        # Finished harvests (run, input tag) a full listing found files for: no more forced
        # listings for them (their files are reported by the usual reading).
        self._with_files: set[HarvestKey] = set()
        # Tags of succeeded harvests already looked for by a full listing (found or not).
        self._files_looked_for: set[HarvestKey] = set()

    def awaited(self, scope: PollScope) -> dict[HarvestKey, datetime | None]:
        """The (run, input tag) pairs a full listing must settle this cycle, mapped to when
        their harvest was reported over (None: a job succeeded, its files are expected):
        finished harvests without a known file, and tags whose harvest task counts a success
        with no file known yet (a first-try success names no file, so only a listing finds
        it). Pairs an earlier full listing found files for wait for the usual reading."""
        expected = {(run.run, tag) for run in scope.runs for tag in run.harvested_tags}
        # A succeeded job copied its files before it ended: one full listing finds them, or
        # nothing will (the periodic listings still watch for a later job's).
        self._files_looked_for &= expected
        awaited: dict[HarvestKey, datetime | None] = dict.fromkeys(
            expected - self._files_looked_for
        )
        finished: dict[HarvestKey, datetime | None] = {}
        for run in scope.runs:
            if run.start_year is None:
                continue  # only its year's folder could show it has no file
            for harvest in run.finished_harvests:
                finished[(run.run, harvest.input_tag)] = harvest.reported_at
        self._with_files &= finished.keys() | expected
        awaited.update(finished)
        return {key: at for key, at in awaited.items() if key not in self._with_files}

    def settle(
        self,
        awaited: dict[HarvestKey, datetime | None],
        years: dict[int, int | None],
        listings: list[FolderListing],
        findings: Findings,
    ) -> None:
        """From this cycle's full listings of every year folder: a pair with files needs no
        forced listing again (its files are read as usual); a finished harvest without any
        is reported as ``NoHarvestFile``. No claim about a run whose year folder is not
        there: a folder missing (not created yet, not mounted) shows nothing, which says
        nothing."""
        present = {
            (stem.run, stem.input_tag)
            for listing in listings
            for run in {run for run, _ in awaited}
            for stem, _kind in listing.by_run.get(run, {}).values()
        }
        listed_years = {listing.year for listing in listings}
        for (run, input_tag), reported in sorted(awaited.items()):
            if reported is None:
                self._files_looked_for.add((run, input_tag))
            if (run, input_tag) in present:
                self._with_files.add((run, input_tag))
            elif reported is not None and years.get(run) in listed_years:
                findings.observe(NoHarvestFile(run=run, input_tag=input_tag, after=reported))
