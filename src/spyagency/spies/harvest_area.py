"""The harvest area spy: new harvested files, their payloads and metadata, upload markers.

One cycle, per year folder scanned: the folder's harvest files as last listed, or listed
again, or completed by looking up names (``harvest_folders``); a stat of each file of the
runs in scope, grouped by output (``harvest_paths``); the outputs that may be reported read
where new or changed (``harvest_facts``); and, when a harvest should have left files, a word
on those that left none (``harvest_absence``). Only a harvest root or year folder that cannot
be listed is a source error; a file that cannot be read is an item problem on its run.

A new output is reported when the scope names one of its files, or its input tag's harvest
task counts a succeeded job (``RunScope.harvested_tags``: a first-try success names no file,
so such a tag also forces one full listing), or once it is older than
``unnamed_grace_ns`` (by its mtime against the poll's time) if nobody names it. A listing
can meet an output before WMStats names it; reporting it then would make what the spy reports
depend on the moments of its own listings, which a restart moves (a restarted spy lists at
once), and an engine restarted mid-harvest would record the harvest at another moment than an
uninterrupted one. Waiting for the name costs nothing where WMStats polls just before this
spy; a file nobody names is reported at the first listing after the grace.

The files of runs in scope are still stat'ed every cycle, so a file rewritten in place (which
leaves the folder's mtime alone) is read again on the next cycle as before. After a restart
the memory is empty and every folder is listed.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from spyagency.domain.states import Source
from spyagency.spies.harvest_absence import AbsenceCheck
from spyagency.spies.harvest_facts import OutputReader
from spyagency.spies.harvest_files import HarvestStem
from spyagency.spies.harvest_folders import (
    FolderListing,
    ListingPolicy,
    YearFolders,
    in_scope,
    probe_missing,
    year_folders,
)
from spyagency.spies.harvest_paths import HarvestOutput, named_by_year
from spyagency.spies.report import Clock, Findings, run_poll, utc_now
from spyagency.spies.scope import PollScope, SpyReport


class HarvestAreaSpy:
    """Scans ``<root>/<year>/`` for the years from ``now.year - years_back`` on.

    Per cycle and scanned year: a directory listing only every ``full_listing_every`` cycles
    or more (see ``harvest_folders``; and after a listing failed); otherwise a stat of each
    file the scope names that is not known yet and, if the folder changed, of each missing file
    (marker, partner) of the known outputs of runs in scope. Then a stat of each known file
    of the runs in scope or above the highest known run, and reads only of new or changed
    files among those. So a cycle costs in proportion to the open runs' outputs, not to the
    folder. Older years are not looked at: an open run is never more than a year old.
    """

    source = Source.HARVEST
    # A year folder is listed at least once every this many cycles, whatever its mtime says.
    full_listing_every = 10
    # ... or once per this many names in the folder, if that is rarer (see harvest_folders).
    listing_names_per_cycle = 1000
    # An output nobody names (WMStats does not, or not yet) is reported once this old.
    unnamed_grace_ns = 3600 * 1_000_000_000
    # A listing is trusted only if the folder's mtime was at least this old when it started.
    racy_margin_ns = 2_000_000_000

    def __init__(self, root: Path, *, clock: Clock = utc_now, years_back: int = 1) -> None:
        self.root = Path(root)
        self.clock = clock
        self.years_back = years_back
        self._reader = OutputReader()
        self._folders = YearFolders()
        self._absence = AbsenceCheck()

    async def poll(self, scope: PollScope) -> SpyReport:
        async def collect(findings: Findings) -> None:
            findings.extend(await asyncio.to_thread(self._scan, scope, findings.child()))

        return await run_poll(self.source, self.clock, collect, lambda: self._reader.reads)

    async def aclose(self) -> None:
        return None

    def _scan(self, scope: PollScope, findings: Findings) -> Findings:
        outputs: dict[HarvestStem, HarvestOutput] = {}
        first_year = scope.now.year - self.years_back
        folders = year_folders(self.root, first_year, findings)
        named = named_by_year(scope) if folders else {}
        vouched_before = scope.now.timestamp() * 1e9 - self.unnamed_grace_ns
        awaited = self._absence.awaited(scope)
        policy = ListingPolicy(
            self.full_listing_every, self.listing_names_per_cycle, self.racy_margin_ns
        )
        # A file of an input tag whose harvest task counts a success is a harvest's output:
        # vouched for as if WMStats named it (a first-try success names nothing).
        harvested_tags = {run.run: frozenset(run.harvested_tags) for run in scope.runs}
        # Only for a finished harvest without files in its run's year folder can the full
        # listing below say anything: its absence needs every folder listed.
        listed: list[FolderListing] = []
        for folder in folders:
            names = named.get(folder.name, [])
            visit = self._folders.visit(folder, names, findings, policy, force=bool(awaited))
            if visit is None:
                continue
            listing, probing = visit
            if listing.cycles_since_listing == 0:
                listed.append(listing)
            prefix = os.path.join(folder, "")
            here: dict[HarvestStem, HarvestOutput] = {}  # the outputs first met in this folder
            for name, (stem, kind) in listing.files_of_runs(scope):
                path = prefix + name
                try:
                    info = os.stat(path)
                except OSError:
                    continue  # vanished since it was listed: next cycle will tell
                output = outputs.get(stem)
                if output is None:
                    output = outputs[stem] = here[stem] = HarvestOutput()
                output.stamps[kind] = (info.st_mtime_ns, info.st_size)
                output.files[kind] = path
            if probing:
                probe_missing(listing, prefix, list(here.values()))
            named_here = set(names)
            for stem, output in here.items():
                harvested = stem.input_tag in harvested_tags.get(stem.run, ())
                if not harvested and not self._vouched(stem, output, named_here, vouched_before):
                    del outputs[stem]
        runs = {run.run: run for run in scope.runs}
        for stem in sorted(outputs):
            self._reader.read(stem, outputs[stem], findings, runs.get(stem.run))
        if awaited and folders and len(listed) == len(folders):
            years = {run.run: run.start_year for run in scope.runs}
            self._absence.settle(awaited, years, listed, findings)
        # A folder that could not be listed is listed in full next time; an unreadable file
        # needs no listing, it is stat'ed and retried every cycle while its run is in scope.
        self._folders.list_all_next = any(error.run is None for error in findings.errors)
        # Half an output: its partner is looked for by name next cycle, as a probe does for
        # any output it knows (see ``probe_missing``), so no listing is needed to find it.
        self._folders.probe_next = any(o.pending for o in outputs.values())
        self._forget(scope, folders)
        return findings

    def _vouched(
        self, stem: HarvestStem, output: HarvestOutput, named: set[str], before_ns: float
    ) -> bool:
        """Whether to report ``output`` now: a harvest job is known to have written it (the
        scope names one of its files), it was read before, or nobody named it in time (it is
        older than ``unnamed_grace_ns``: WMStats down, a file copied by hand). A younger
        output nobody names waits: what the spy reports then follows the scope, the folder
        and the clock, never the moments of its own listings, which a restart moves.
        """
        if self._reader.knows(stem):
            return True
        if any(os.path.basename(path) in named for path in output.files.values()):
            return True
        return min(mtime for mtime, _ in output.stamps.values()) <= before_ns

    def _forget(self, scope: PollScope, folders: list[Path]) -> None:
        """Drop memory of runs that left the scope, so memory follows the open runs, and the
        listings of folders no longer scanned."""
        open_runs, highest = set(scope.open_runs), scope.highest_known_run
        self._reader.forget(lambda run: in_scope(run, open_runs, highest))
        self._folders.forget(folders)
