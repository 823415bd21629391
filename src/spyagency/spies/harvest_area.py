"""The harvest area spy: new harvested files, their payloads and metadata, upload markers.

Incremental: the spy remembers each output's (mtime, size) and reads a file again only when
it changed. A file that cannot be read (being written, locked, half a JSON line, not sqlite,
no permission) is not remembered, so it is retried next cycle; each such attempt is an item
problem on the file's run (``Findings.item_problem``, the file's name as the item): the rest of
the poll goes on and the source stays healthy. Only a harvest root or year folder that cannot
be listed is a source error. A file read fine after a problem closes it (``Findings.item_ok``).

Besides the payloads, the spy computes the hash under which the upload service will file the
upload's log: the sha1 of the tarball the Tier-0 builds from the ``.db`` and the
``prodMetaData`` line (``harvest_files.upload_hash``).

A year folder keeps every output of the year (tens of thousands of names), and it changes
after every harvest, so listing it whenever it changed would list it almost every cycle. The
spy remembers its last listing of each folder instead and, between full listings, asks for
files by name:

* each name is parsed once; a listing only parses the names it had not seen before and drops
  the names that disappeared, so memory is bounded by the folder's content;
* while the folder cannot have changed it is not looked at: creating, removing or renaming a
  file updates the folder's mtime, so an unchanged (inode, mtime) means the same names. That
  is trusted only when the folder's mtime was older than ``racy_margin_ns`` when the listing
  started (git's racy-index rule): a change in the same timestamp tick as the listing could
  otherwise leave the mtime as recorded;
* the files the scope names (``RunScope.harvest_outputs``, the outputs WMStats reports for
  the runs' harvest jobs) are looked for by name at every cycle until found;
* when the folder changed (or its listing was racy), the spy *probes* rather than lists: for
  every output it knows of a run in scope, it stats the files that output still lacks: the
  upload marker (the Tier-0 writes it just before uploading; WMStats never names it) and the
  partner of half an output. A half output thus needs no listing: its
  partner is looked for by name every cycle until it is there. A name found joins the cached
  listing as if listed; a name not there yet is simply not there. A probe is no listing: the
  folder stays recorded as last listed, so the next cycle probes again rather than trusting
  the cache as complete;
* a full listing still happens at the first cycle, after a cycle that could not list a
  folder, and at least every ``full_listing_every`` cycles whatever the folder says, or
  every one per ``listing_names_per_cycle`` names in the folder if that is more (a listing costs in
  proportion to the folder, about 0.45 us a name: spread over the cycles, it costs no cycle
  more than listing that many names, so a cycle's cost stays flat as the year's folder grows).
  That is what finds a file nobody names (WMStats could not be asked, a file copied by hand),
  within that many cycles: 10 for a young folder, 70 for the ~70,000 names of a year's end
  (a filesystem that does not move a folder's mtime can hide an upload marker as long).

When the scope lists finished harvests (``RunScope.finished_harvests``: a producer's task
reported over without failure, no file of an input tag known), the cycle lists every year
folder in full and reports each such input tag that no listed name carries as a
``NoHarvestFile``: the AlcaHarvest job copies its files out before it ends, so a listing made
after its end sees everything it wrote. An input tag with files in that listing waits for the
usual reading and forces no further listing.

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
import bisect
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from spyagency.domain.facts import HarvestFile, NoHarvestFile, UploadMarker
from spyagency.domain.states import Source
from spyagency.spies.failures import SchemaViolation, SourceFailure
from spyagency.spies.harvest_files import (
    HarvestStem,
    UnreadableFile,
    db_hashes,
    parse_file_name,
    parse_metadata,
    payload_hashes,
    unreadable,
)
from spyagency.spies.report import Clock, Findings, run_poll, utc_now
from spyagency.spies.scope import PollScope, RunScope, SpyReport

YEAR_DIR = re.compile(r"^[0-9]{4}$")
HARVEST_KINDS = ("db", "txt", "txt.uploaded")
Stamp = tuple[int, int]  # (mtime in ns, size)
Parsed = tuple[HarvestStem, str]  # (stem, kind)
FolderIdentity = tuple[int, int]  # (inode, mtime in ns) of a year folder


@dataclass
class _Output:
    """The files of one harvest output found in this scan."""

    # Plain strings: a scan stats every file of the runs in scope, and building a Path for
    # each would cost more than the stat; a Path is made only for a file that is read.
    files: dict[str, str] = field(default_factory=dict)
    stamps: dict[str, Stamp] = field(default_factory=dict)

    def path(self, kind: str) -> Path:
        return Path(self.files[kind])

    @property
    def pending(self) -> bool:
        """Half an output: its partner file is still to come."""
        return ("db" in self.files) != ("txt" in self.files)


@dataclass
class _FolderListing:
    """The harvest files of one year folder as last listed, indexed by run."""

    identity: FolderIdentity
    settled: bool  # the folder's mtime was older than the racy margin when it was listed
    year: int  # the folder's name
    names: set[str] = field(default_factory=set)  # every name, harvest file or not
    parsed: dict[str, Parsed] = field(default_factory=dict)  # the harvest-file names
    by_run: dict[int, dict[str, Parsed]] = field(default_factory=dict)
    runs: list[int] = field(default_factory=list)  # the keys of by_run, sorted
    cycles_since_listing: int = 0

    def update(self, names: list[str]) -> None:
        """Take a new listing: parse only new names, forget the names that disappeared."""
        new = [name for name in names if name not in self.names]
        # Names in a listing are unique, so the counts tell whether any disappeared; the
        # usual case (files only added) then needs no second pass over the whole folder.
        if len(names) != len(self.names) + len(new):
            current = set(names)
            for name in self.names - current:
                self._remove(name)
            self.names &= current
        for name in new:
            self.found(name)
        self.cycles_since_listing = 0

    def found(self, name: str) -> None:
        """Take a name seen by a listing or a stat (each name is parsed once)."""
        if name in self.names:
            return
        self.names.add(name)
        parsed = parse_file_name(name)
        if parsed is not None:
            self._add(name, parsed)

    def files_of_runs(self, scope: PollScope) -> Iterator[tuple[str, Parsed]]:
        """(name, parsed) of the files of runs in scope or above the highest known run."""
        for run in _runs_in_scope(self.runs, scope):
            yield from self.by_run[run].items()

    def _add(self, name: str, parsed: Parsed) -> None:
        run = parsed[0].run
        self.parsed[name] = parsed
        if run not in self.by_run:
            self.by_run[run] = {}
            bisect.insort(self.runs, run)
        self.by_run[run][name] = parsed

    def _remove(self, name: str) -> None:
        parsed = self.parsed.pop(name, None)
        if parsed is None:
            return
        run = parsed[0].run
        files = self.by_run[run]
        del files[name]
        if not files:
            del self.by_run[run]
            del self.runs[bisect.bisect_left(self.runs, run)]


def _named_by_year(scope: PollScope) -> dict[str, list[str]]:
    """The harvest files the scope names (``RunScope.harvest_outputs``), by year folder."""
    named: dict[str, list[str]] = {}
    for run in scope.runs:
        for entry in run.harvest_outputs:
            year, _, name = entry.partition("/")
            named.setdefault(year, []).append(name)
    return named


def _runs_in_scope(runs: list[int], scope: PollScope) -> list[int]:
    """Of ``runs`` (sorted), the open runs and the runs above the highest known run."""
    open_runs, highest = set(scope.open_runs), scope.highest_known_run
    return [run for run in runs if _in_scope(run, open_runs, highest)]


def _in_scope(run: int, open_runs: set[int], highest_known_run: int | None) -> bool:
    """An open run, or a run the agency does not know yet."""
    return run in open_runs or highest_known_run is None or run > highest_known_run


def _is_racy(mtime_ns: int, listing_started_ns: int, margin_ns: int) -> bool:
    """True when a change right after the listing could have kept the folder's mtime."""
    return mtime_ns > listing_started_ns - margin_ns


def _stamp(path: Path) -> Stamp:
    info = path.stat()
    return info.st_mtime_ns, info.st_size


def _moment(stamp: Stamp) -> datetime:
    return datetime.fromtimestamp(stamp[0] / 1e9, UTC)


class HarvestAreaSpy:
    """Scans ``<root>/<year>/`` for the years from ``now.year - years_back`` on.

    Per cycle and scanned year: a directory listing only every ``full_listing_every`` cycles
    or more (see the module docstring; and after a listing failed); otherwise a stat of each
    file the scope names that is not known yet and, if the folder changed, of each missing file
    (marker, partner) of the known outputs of runs in scope. Then a stat of each known file
    of the runs in scope or above the highest known run, and reads only of new or changed
    files among those. So a cycle costs in proportion to the open runs' outputs, not to the
    folder. Older years are not looked at: an open run is never more than a year old.
    """

    source = Source.HARVEST
    # A year folder is listed at least once every this many cycles, whatever its mtime says.
    full_listing_every = 10
    # ... or once per this many names in the folder, if that is rarer (see the module doc).
    listing_names_per_cycle = 1000
    # An output nobody names (WMStats does not, or not yet) is reported once this old.
    unnamed_grace_ns = 3600 * 1_000_000_000
    # A listing is trusted only if the folder's mtime was at least this old when it started.
    racy_margin_ns = 2_000_000_000

    def __init__(self, root: Path, *, clock: Clock = utc_now, years_back: int = 1) -> None:
        self.root = Path(root)
        self.clock = clock
        self.years_back = years_back
        self._harvested: dict[HarvestStem, tuple[Stamp, Stamp]] = {}
        self._markers: dict[HarvestStem, Stamp] = {}
        self._listings: dict[Path, _FolderListing] = {}
        self._list_all_next = False  # the last cycle could not list a folder
        # Finished harvests (run, input tag) a full listing found files for: no more forced
        # listings for them (their files are reported by the usual reading).
        self._with_files: set[tuple[int, str]] = set()
        # Tags of succeeded harvests already looked for by a full listing (found or not).
        self._files_looked_for: set[tuple[int, str]] = set()
        self._probe_next = False  # the last cycle found half an output
        self.reads = 0  # files opened: a poll reports them as its requests

    async def poll(self, scope: PollScope) -> SpyReport:
        async def collect(findings: Findings) -> None:
            findings.extend(await asyncio.to_thread(self._scan, scope, findings.child()))

        return await run_poll(self.source, self.clock, collect, lambda: self.reads)

    async def aclose(self) -> None:
        return None

    def _scan(self, scope: PollScope, findings: Findings) -> Findings:
        outputs: dict[HarvestStem, _Output] = {}
        folders = self._year_folders(scope, findings)
        named = _named_by_year(scope) if folders else {}
        vouched_before = scope.now.timestamp() * 1e9 - self.unnamed_grace_ns
        awaited = self._awaited(scope)
        # A file of an input tag whose harvest task counts a success is a harvest's output:
        # vouched for as if WMStats named it (a first-try success names nothing).
        harvested_tags = {run.run: frozenset(run.harvested_tags) for run in scope.runs}
        # Only for a finished harvest without files in its run's year folder can the full
        # listing below say anything: its absence needs every folder listed.
        listed: list[_FolderListing] = []
        for folder in folders:
            names = named.get(folder.name, [])
            visit = self._listing(folder, names, findings, force=bool(awaited))
            if visit is None:
                continue
            listing, probing = visit
            if listing.cycles_since_listing == 0:
                listed.append(listing)
            prefix = os.path.join(folder, "")
            here: dict[HarvestStem, _Output] = {}  # the outputs first met in this folder
            for name, (stem, kind) in listing.files_of_runs(scope):
                path = prefix + name
                try:
                    info = os.stat(path)
                except OSError:
                    continue  # vanished since it was listed: next cycle will tell
                output = outputs.get(stem)
                if output is None:
                    output = outputs[stem] = here[stem] = _Output()
                output.stamps[kind] = (info.st_mtime_ns, info.st_size)
                output.files[kind] = path
            if probing:
                self._probe_missing(listing, prefix, list(here.values()))
            named_here = set(names)
            for stem, output in here.items():
                harvested = stem.input_tag in harvested_tags.get(stem.run, ())
                if not harvested and not self._vouched(stem, output, named_here, vouched_before):
                    del outputs[stem]
        runs = {run.run: run for run in scope.runs}
        for stem in sorted(outputs):
            self._read_output(stem, outputs[stem], findings, runs.get(stem.run))
        if awaited and folders and len(listed) == len(folders):
            years = {run.run: run.start_year for run in scope.runs}
            self._settle(awaited, years, listed, findings)
        # A folder that could not be listed is listed in full next time; an unreadable file
        # needs no listing, it is stat'ed and retried every cycle while its run is in scope.
        self._list_all_next = any(error.run is None for error in findings.errors)
        # Half an output: its partner is looked for by name next cycle, as a probe does for
        # any output it knows (see ``_probe_missing``), so no listing is needed to find it.
        self._probe_next = any(o.pending for o in outputs.values())
        self._forget(scope, folders)
        return findings

    def _vouched(
        self, stem: HarvestStem, output: _Output, named: set[str], before_ns: float
    ) -> bool:
        """Whether to report ``output`` now: a harvest job is known to have written it (the
        scope names one of its files), it was read before, or nobody named it in time (it is
        older than ``unnamed_grace_ns``: WMStats down, a file copied by hand). A younger
        output nobody names waits: what the spy reports then follows the scope, the folder
        and the clock, never the moments of its own listings, which a restart moves.
        """
        if stem in self._harvested or stem in self._markers:
            return True
        if any(os.path.basename(path) in named for path in output.files.values()):
            return True
        return min(mtime for mtime, _ in output.stamps.values()) <= before_ns

    def _awaited(self, scope: PollScope) -> dict[tuple[int, str], datetime | None]:
        """The (run, input tag) pairs a full listing must settle this cycle, mapped to when
        their harvest was reported over (None: a job succeeded, its files are expected):
        finished harvests without a known file, and tags whose harvest task counts a success
        with no file known yet (a first-try success names no file, so only a listing finds
        it). Pairs an earlier full listing found files for wait for the usual reading."""
        expected = {(run.run, tag) for run in scope.runs for tag in run.harvested_tags}
        # A succeeded job copied its files before it ended: one full listing finds them, or
        # nothing will (the periodic listings still watch for a later job's).
        self._files_looked_for &= expected
        awaited: dict[tuple[int, str], datetime | None] = dict.fromkeys(
            expected - self._files_looked_for
        )
        finished: dict[tuple[int, str], datetime | None] = {}
        for run in scope.runs:
            if run.start_year is None:
                continue  # only its year's folder could show it has no file
            for harvest in run.finished_harvests:
                finished[(run.run, harvest.input_tag)] = harvest.reported_at
        self._with_files &= finished.keys() | expected
        awaited.update(finished)
        return {key: at for key, at in awaited.items() if key not in self._with_files}

    def _settle(
        self,
        awaited: dict[tuple[int, str], datetime | None],
        years: dict[int, int | None],
        listings: list[_FolderListing],
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

    def _listing(
        self, folder: Path, named: list[str], findings: Findings, *, force: bool = False
    ) -> tuple[_FolderListing, bool] | None:
        """The folder's harvest files, and whether the folder is being probed: listed, or the
        last listing plus the named files a probe found, or the last listing alone if the
        folder cannot have changed. ``force`` asks for a full listing whatever is due."""
        started_ns = time.time_ns()
        known = self._listings.get(folder)
        try:
            info = os.stat(folder)
            identity = (info.st_ino, info.st_mtime_ns)
            if known is not None and not force and not self._listing_due(known):
                # The identity stays the last listing's: a probe is no listing, so the next
                # cycle probes again rather than trusting this one as complete.
                known.cycles_since_listing += 1
                self._probe_named(folder, known, named)
                probing = self._probe_next or not known.settled or known.identity != identity
                return known, probing
            names = os.listdir(folder)
        except OSError as bad:
            self._listings.pop(folder, None)
            findings.error(f"cannot list {folder}: {bad}", url=str(folder))
            return None
        settled = not _is_racy(identity[1], started_ns, self.racy_margin_ns)
        listing = (
            known if known is not None else _FolderListing(identity, settled, int(folder.name))
        )
        self._listings[folder] = listing
        listing.identity, listing.settled = identity, settled
        listing.update(names)
        return listing, False

    def _listing_due(self, listing: _FolderListing) -> bool:
        """The safety net for files nobody names: a full listing every few cycles, and after
        a cycle that could not list a folder."""
        every = max(self.full_listing_every, len(listing.names) // self.listing_names_per_cycle)
        return self._list_all_next or listing.cycles_since_listing + 1 >= every

    def _probe_named(self, folder: Path, listing: _FolderListing, named: list[str]) -> None:
        """Look for the files the scope names (from WMStats) that the listing lacks. A name
        not there yet is simply not there."""
        prefix = os.path.join(folder, "")
        for name in named:
            if name not in listing.names and os.path.exists(prefix + name):
                listing.found(name)

    def _probe_missing(self, listing: _FolderListing, prefix: str, outputs: list[_Output]) -> None:
        """Look for what the outputs of the folder's runs in scope lack: the upload marker,
        which the Tier-0 writes just before uploading and WMStats never names, and the
        partner of half an output. What is found is stat'ed here and joins the listing."""
        for output in outputs:
            kind, path = next(iter(output.files.items()))
            base = path[: -len(kind)]  # ends with the dot
            for missing in HARVEST_KINDS:
                if missing in output.files:
                    continue
                path = base + missing
                try:
                    info = os.stat(path)
                except OSError:
                    continue  # not there yet
                listing.found(path[len(prefix) :])
                output.stamps[missing] = (info.st_mtime_ns, info.st_size)
                output.files[missing] = path

    def _year_folders(self, scope: PollScope, findings: Findings) -> list[Path]:
        try:
            with os.scandir(self.root) as listing:
                names = sorted(e.name for e in listing if e.is_dir())
        except OSError as bad:
            findings.error(f"cannot list the harvest area {self.root}: {bad}", url=str(self.root))
            return []
        first_year = scope.now.year - self.years_back
        return [self.root / n for n in names if YEAR_DIR.fullmatch(n) and int(n) >= first_year]

    def _read_output(
        self, stem: HarvestStem, output: _Output, findings: Findings, run: RunScope | None
    ) -> None:
        if "db" in output.files and "txt" in output.files:
            stamps = (output.stamps["db"], output.stamps["txt"])
            if self._harvested.get(stem) != stamps:
                try:
                    self._read_harvest(stem, output, findings)
                    self._harvested[stem] = stamps
                    findings.item_ok(run, output.path("db").name)
                    findings.item_ok(run, output.path("txt").name)
                except UnreadableFile as bad:
                    self._report(stem, bad, findings)
        marker_stamp = output.stamps.get("txt.uploaded")
        if marker_stamp is not None and self._markers.get(stem) != marker_stamp:
            marker = output.path("txt.uploaded")
            try:
                self._read_marker(stem, marker, marker_stamp, findings)
                self._markers[stem] = marker_stamp
                findings.item_ok(run, marker.name)
            except UnreadableFile as bad:
                self._report(stem, bad, findings)

    def _read_harvest(self, stem: HarvestStem, output: _Output, findings: Findings) -> None:
        db, txt = output.path("db"), output.path("txt")
        self.reads += 2
        text = ""
        try:
            text = txt.read_text("utf-8", errors="replace")
            metadata = parse_metadata(text)
        except (SourceFailure, SchemaViolation, OSError) as bad:
            raise unreadable(bad, txt, text) from None
        try:
            hashes = payload_hashes(db, metadata.input_tag or stem.input_tag)
            sha1, upload = db_hashes(db, metadata.prod_json)
            if _stamp(db) != output.stamps["db"] or _stamp(txt) != output.stamps["txt"]:
                raise SourceFailure(f"{db.name} changed while being read", url=str(db))
        except (SourceFailure, SchemaViolation, OSError) as bad:
            raise unreadable(bad, db) from None
        created = _moment(output.stamps["db"])
        fact = HarvestFile(
            run=stem.run,
            input_tag=stem.input_tag,
            uuid=stem.uuid,
            created=created,
            payload_hashes=hashes,
            destination_tags=metadata.destination_tags,
            since=metadata.since,
            file_sha1=sha1,
            upload_hash=upload,
        )
        findings.observe(fact, raw=text, fact_time=created)

    def _read_marker(
        self, stem: HarvestStem, marker: Path, stamp: Stamp, findings: Findings
    ) -> None:
        self.reads += 1
        text = ""
        try:
            text = marker.read_text("utf-8", errors="replace")
            metadata = parse_metadata(text)
        except (SchemaViolation, OSError) as bad:
            raise unreadable(bad, marker, text) from None
        attempted = _moment(stamp)
        fact = UploadMarker(
            run=stem.run,
            input_tag=stem.input_tag,
            uuid=stem.uuid,
            attempted=attempted,
            destination_tags=metadata.destination_tags,
        )
        findings.observe(fact, raw=text, fact_time=attempted)

    def _report(self, stem: HarvestStem, bad: UnreadableFile, findings: Findings) -> None:
        # Evidence on this file only, never permanent: a file being written becomes
        # readable, a fixed file is read again (it is not remembered as read).
        findings.item_problem(
            stem.run,
            bad.path.name,
            bad.message,
            raw=bad.raw,
            url=str(bad.path),
            input_tag=stem.input_tag,
        )

    def _forget(self, scope: PollScope, folders: list[Path]) -> None:
        """Drop memory of runs that left the scope, so memory follows the open runs, and the
        listings of folders no longer scanned."""
        open_runs, highest = set(scope.open_runs), scope.highest_known_run
        for memory in (self._harvested, self._markers):
            for stem in [s for s in memory if not _in_scope(s.run, open_runs, highest)]:
                del memory[stem]
        for folder in self._listings.keys() - set(folders):
            del self._listings[folder]
