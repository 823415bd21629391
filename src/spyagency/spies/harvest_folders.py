"""The harvest spy's year folders: when to list one in full, and when to look up names instead.

A year folder keeps every output of the year (tens of thousands of names), and it changes
after every harvest, so listing it whenever it changed would list it almost every cycle. The
spy remembers its last listing of each folder instead and, between full listings, asks for
files by name:

* each name is parsed once; a listing only parses the names it had not seen before and drops
  the names that disappeared, so memory is bounded by the folder's content;
* while the folder cannot have changed it is not looked at: creating, removing or renaming a
  file updates the folder's mtime, so an unchanged (inode, mtime) means the same names. That
  is trusted only when the folder's mtime was older than the racy margin when the listing
  started (git's racy-index rule): a change in the same timestamp tick as the listing could
  otherwise leave the mtime as recorded;
* the files the scope names (``RunScope.harvest_outputs``, the outputs WMStats reports for
  the runs' harvest jobs) are looked for by name at every cycle until found;
* when the folder changed (or its listing was racy), the spy *probes* rather than lists: for
  every output it knows of a run in scope, it stats the files that output still lacks: the
  upload marker (the Tier-0 writes it just before uploading; WMStats never names it) and the
  partner of half an output. A half output thus needs no listing: its partner is looked for
  by name every cycle until it is there. A name found joins the cached listing as if listed;
  a name not there yet is simply not there. A probe is no listing: the folder stays recorded
  as last listed, so the next cycle probes again rather than trusting the cache as complete;
* a full listing still happens at the first cycle, after a cycle that could not list a
  folder, and at least every ``full_listing_every`` cycles whatever the folder says, or once
  per ``listing_names_per_cycle`` names in the folder if that is rarer (a listing costs in
  proportion to the folder, about 0.45 us a name: spread over the cycles, it costs no cycle
  more than listing that many names, so a cycle's cost stays flat as the year's folder grows).
  That is what finds a file nobody names (WMStats could not be asked, a file copied by hand),
  within that many cycles: 10 for a young folder, 70 for the ~70,000 names of a year's end
  (a filesystem that does not move a folder's mtime can hide an upload marker as long).

After a restart the memory is empty and every folder is listed.
"""

from __future__ import annotations

import bisect
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from spyagency.spies.harvest_files import parse_file_name
from spyagency.spies.harvest_paths import YEAR_DIR, HarvestOutput, Parsed
from spyagency.spies.report import Findings
from spyagency.spies.scope import PollScope

FolderIdentity = tuple[int, int]  # (inode, mtime in ns) of a year folder


def in_scope(run: int, open_runs: set[int], highest_known_run: int | None) -> bool:
    """An open run, or a run the agency does not know yet."""
    return run in open_runs or highest_known_run is None or run > highest_known_run


def runs_in_scope(runs: list[int], scope: PollScope) -> list[int]:
    """Of ``runs`` (sorted), the open runs and the runs above the highest known run."""
    open_runs, highest = set(scope.open_runs), scope.highest_known_run
    return [run for run in runs if in_scope(run, open_runs, highest)]


def is_racy(mtime_ns: int, listing_started_ns: int, margin_ns: int) -> bool:
    """True when a change right after the listing could have kept the folder's mtime."""
    return mtime_ns > listing_started_ns - margin_ns


@dataclass
class FolderListing:
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
        for run in runs_in_scope(self.runs, scope):
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


@dataclass(frozen=True)
class ListingPolicy:
    """How often a year folder is listed in full (the spy's settings, read each cycle)."""

    full_listing_every: int  # cycles, at least, whatever the folder's mtime says
    listing_names_per_cycle: int  # ... or once per this many names, if that is rarer
    racy_margin_ns: int  # a listing is trusted if the folder's mtime was this old


class YearFolders:
    """The last listing of each year folder, and what the last cycle left to do."""

    def __init__(self) -> None:
        self.listings: dict[Path, FolderListing] = {}
        self.list_all_next = False  # the last cycle could not list a folder
        self.probe_next = False  # the last cycle found half an output

    def visit(
        self,
        folder: Path,
        named: list[str],
        findings: Findings,
        policy: ListingPolicy,
        *,
        force: bool = False,
    ) -> tuple[FolderListing, bool] | None:
        """The folder's harvest files, and whether the folder is being probed: listed, or the
        last listing plus the named files a probe found, or the last listing alone if the
        folder cannot have changed. ``force`` asks for a full listing whatever is due."""
        started_ns = time.time_ns()
        known = self.listings.get(folder)
        try:
            info = os.stat(folder)
            identity = (info.st_ino, info.st_mtime_ns)
            if known is not None and not force and not self._listing_due(known, policy):
                # The identity stays the last listing's: a probe is no listing, so the next
                # cycle probes again rather than trusting this one as complete.
                known.cycles_since_listing += 1
                probe_named(folder, known, named)
                probing = self.probe_next or not known.settled or known.identity != identity
                return known, probing
            names = os.listdir(folder)
        except OSError as bad:
            self.listings.pop(folder, None)
            findings.error(f"cannot list {folder}: {bad}", url=str(folder))
            return None
        settled = not is_racy(identity[1], started_ns, policy.racy_margin_ns)
        listing = known if known is not None else FolderListing(identity, settled, int(folder.name))
        self.listings[folder] = listing
        listing.identity, listing.settled = identity, settled
        listing.update(names)
        return listing, False

    def _listing_due(self, listing: FolderListing, policy: ListingPolicy) -> bool:
        """The safety net for files nobody names: a full listing every few cycles, and after
        a cycle that could not list a folder."""
        every = max(policy.full_listing_every, len(listing.names) // policy.listing_names_per_cycle)
        return self.list_all_next or listing.cycles_since_listing + 1 >= every

    def forget(self, folders: list[Path]) -> None:
        """Drop the listings of folders no longer scanned."""
        for folder in self.listings.keys() - set(folders):
            del self.listings[folder]


def probe_named(folder: Path, listing: FolderListing, named: list[str]) -> None:
    """Look for the files the scope names (from WMStats) that the listing lacks. A name not
    there yet is simply not there."""
    prefix = os.path.join(folder, "")
    for name in named:
        if name not in listing.names and os.path.exists(prefix + name):
            listing.found(name)


def probe_missing(listing: FolderListing, prefix: str, outputs: list[HarvestOutput]) -> None:
    """Look for what the outputs of the folder's runs in scope lack: the upload marker, which
    the Tier-0 writes just before uploading and WMStats never names, and the partner of half
    an output. What is found is stat'ed here and joins the listing."""
    for output in outputs:
        for missing, path in output.lacking():
            try:
                info = os.stat(path)
            except OSError:
                continue  # not there yet
            listing.found(path[len(prefix) :])
            output.stamps[missing] = (info.st_mtime_ns, info.st_size)
            output.files[missing] = path


def year_folders(root: Path, first_year: int, findings: Findings) -> list[Path]:
    """The year folders of the harvest area from ``first_year`` on, sorted; none (and a source
    error) when the area cannot be listed."""
    try:
        with os.scandir(root) as listing:
            names = sorted(e.name for e in listing if e.is_dir())
    except OSError as bad:
        findings.error(f"cannot list the harvest area {root}: {bad}", url=str(root))
        return []
    return [root / n for n in names if YEAR_DIR.fullmatch(n) and int(n) >= first_year]
