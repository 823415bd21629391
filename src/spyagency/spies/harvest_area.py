"""The harvest area spy: new harvested files, their payloads and metadata, upload markers.

Incremental: the spy remembers each output's (mtime, size) and reads a file again only when
it changed. A file that cannot be read yet (being written, locked, half a JSON line) is not
remembered, so it is retried next cycle; each such attempt is reported as a SourceError.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from spyagency.domain.facts import HarvestFile, UploadMarker
from spyagency.domain.states import Source
from spyagency.spies.failures import SchemaViolation, SourceFailure
from spyagency.spies.harvest_files import (
    HarvestStem,
    file_sha1,
    parse_file_name,
    parse_metadata,
    payload_hashes,
)
from spyagency.spies.report import Clock, Findings, run_poll, utc_now
from spyagency.spies.scope import PollScope, SpyReport

YEAR_DIR = re.compile(r"^[0-9]{4}$")
Stamp = tuple[int, int]  # (mtime in ns, size)


@dataclass
class _Output:
    """The files of one harvest output found in this scan."""

    files: dict[str, Path] = field(default_factory=dict)
    stamps: dict[str, Stamp] = field(default_factory=dict)


def _stamp(path: Path) -> Stamp:
    info = path.stat()
    return info.st_mtime_ns, info.st_size


def _moment(stamp: Stamp) -> datetime:
    return datetime.fromtimestamp(stamp[0] / 1e9, UTC)


class HarvestAreaSpy:
    """Scans ``<root>/<year>/`` for the years from ``now.year - years_back`` on.

    Per cycle: one directory listing per scanned year, and reads only of new or changed files
    of runs in scope or above the highest known run. Older years are not listed: an open run
    is never more than a year old.
    """

    source = Source.HARVEST

    def __init__(self, root: Path, *, clock: Clock = utc_now, years_back: int = 1) -> None:
        self.root = Path(root)
        self.clock = clock
        self.years_back = years_back
        self._harvested: dict[HarvestStem, tuple[Stamp, Stamp]] = {}
        self._markers: dict[HarvestStem, Stamp] = {}
        self.reads = 0  # files opened, for tests and metrics

    async def poll(self, scope: PollScope) -> SpyReport:
        async def collect(findings: Findings) -> None:
            findings.extend(await asyncio.to_thread(self._scan, scope, findings.child()))

        return await run_poll(self.source, self.clock, collect, lambda: self.reads)

    async def aclose(self) -> None:
        return None

    def _relevant(self, scope: PollScope, run: int) -> bool:
        if run in scope.open_runs:
            return True
        return scope.highest_known_run is None or run > scope.highest_known_run

    def _scan(self, scope: PollScope, findings: Findings) -> Findings:
        outputs: dict[HarvestStem, _Output] = {}
        for folder in self._year_folders(scope, findings):
            try:
                with os.scandir(folder) as listing:
                    entries = list(listing)
            except OSError as bad:
                findings.error(f"cannot list {folder}: {bad}", url=str(folder))
                continue
            for entry in entries:
                parsed = parse_file_name(entry.name)
                if parsed is None or not self._relevant(scope, parsed[0].run):
                    continue
                stem, kind = parsed
                output = outputs.setdefault(stem, _Output())
                try:
                    info = entry.stat()
                except OSError:
                    continue  # vanished between listing and stat: next cycle will tell
                output.stamps[kind] = (info.st_mtime_ns, info.st_size)
                output.files[kind] = Path(entry.path)
        for stem in sorted(outputs):
            self._read_output(stem, outputs[stem], findings)
        self._forget(scope)
        return findings

    def _year_folders(self, scope: PollScope, findings: Findings) -> list[Path]:
        try:
            with os.scandir(self.root) as listing:
                names = sorted(e.name for e in listing if e.is_dir())
        except OSError as bad:
            findings.error(f"cannot list the harvest area {self.root}: {bad}", url=str(self.root))
            return []
        first_year = scope.now.year - self.years_back
        return [self.root / n for n in names if YEAR_DIR.fullmatch(n) and int(n) >= first_year]

    def _read_output(self, stem: HarvestStem, output: _Output, findings: Findings) -> None:
        if "db" in output.files and "txt" in output.files:
            stamps = (output.stamps["db"], output.stamps["txt"])
            if self._harvested.get(stem) != stamps:
                try:
                    self._read_harvest(stem, output, findings)
                    self._harvested[stem] = stamps
                except (SourceFailure, SchemaViolation, OSError) as bad:
                    self._report(bad, output.files["db"], findings)
        marker = output.files.get("txt.uploaded")
        if marker is not None and self._markers.get(stem) != output.stamps["txt.uploaded"]:
            try:
                self._read_marker(stem, marker, output.stamps["txt.uploaded"], findings)
                self._markers[stem] = output.stamps["txt.uploaded"]
            except (SourceFailure, SchemaViolation, OSError) as bad:
                self._report(bad, marker, findings)

    def _read_harvest(self, stem: HarvestStem, output: _Output, findings: Findings) -> None:
        db, txt = output.files["db"], output.files["txt"]
        self.reads += 2
        text = txt.read_text("utf-8", errors="replace")
        metadata = parse_metadata(text)
        hashes = payload_hashes(db, metadata.input_tag or stem.input_tag)
        sha1 = file_sha1(db)
        if _stamp(db) != output.stamps["db"] or _stamp(txt) != output.stamps["txt"]:
            raise SourceFailure(f"{db.name} changed while being read", url=str(db))
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
        )
        findings.observe(fact, raw=text, fact_time=created)

    def _read_marker(
        self, stem: HarvestStem, marker: Path, stamp: Stamp, findings: Findings
    ) -> None:
        self.reads += 1
        text = marker.read_text("utf-8", errors="replace")
        metadata = parse_metadata(text)
        attempted = _moment(stamp)
        fact = UploadMarker(
            run=stem.run,
            input_tag=stem.input_tag,
            uuid=stem.uuid,
            attempted=attempted,
            destination_tags=metadata.destination_tags,
        )
        findings.observe(fact, raw=text, fact_time=attempted)

    def _report(self, bad: Exception, path: Path, findings: Findings) -> None:
        # Never permanent: a file being written becomes readable; a fixed file is re-read.
        if isinstance(bad, SourceFailure):
            findings.error(bad.message, raw=bad.raw, url=str(path))
        elif isinstance(bad, SchemaViolation):
            findings.error(f"{path.name}: {bad.message}", raw=bad.raw, url=str(path))
        else:
            findings.error(f"cannot read {path.name}: {bad}", url=str(path))

    def _forget(self, scope: PollScope) -> None:
        """Drop memory of runs that left the scope, so memory follows the open runs."""
        for memory in (self._harvested, self._markers):
            for stem in [s for s in memory if not self._relevant(scope, s.run)]:
                del memory[stem]
