"""What a harvest output's files report: a ``HarvestFile``, an ``UploadMarker``, or an item
problem, each file read only when it is new or changed.

Incremental: the reader remembers each output's (mtime, size) and reads a file again only
when it changed. A file that cannot be read (being written, locked, half a JSON line, not
sqlite, no permission) is not remembered, so it is retried next cycle; each such attempt is
an item problem on the file's run (``Findings.item_problem``, the file's name as the item):
the rest of the poll goes on and the source stays healthy. A file read fine after a problem
closes it (``Findings.item_ok``).

Besides the payloads, the reader computes the hash under which the upload service will file
the upload's log: the sha1 of the tarball the Tier-0 builds from the ``.db`` and the
``prodMetaData`` line (``harvest_files.upload_hash``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from spyagency.domain.facts import HarvestFile, UploadMarker
from spyagency.spies.failures import SchemaViolation, SourceFailure
from spyagency.spies.harvest_files import (
    HarvestStem,
    UnreadableFile,
    db_hashes,
    parse_metadata,
    payload_hashes,
    unreadable,
)
from spyagency.spies.harvest_paths import HarvestOutput, Stamp
from spyagency.spies.report import Findings
from spyagency.spies.scope import RunScope


def _stamp(path: Path) -> Stamp:
    info = path.stat()
    return info.st_mtime_ns, info.st_size


def _moment(stamp: Stamp) -> datetime:
    return datetime.fromtimestamp(stamp[0] / 1e9, UTC)


class OutputReader:
    """Reads the outputs it is given into findings, remembering what it read."""

    def __init__(self) -> None:
        self._harvested: dict[HarvestStem, tuple[Stamp, Stamp]] = {}
        self._markers: dict[HarvestStem, Stamp] = {}
        self.reads = 0  # files opened: a poll reports them as its requests

    def knows(self, stem: HarvestStem) -> bool:
        """Whether a file of this output was read before."""
        return stem in self._harvested or stem in self._markers

    def forget(self, keep: Callable[[int], bool]) -> None:
        """Drop the memory of the outputs of runs ``keep`` says no to."""
        for memory in (self._harvested, self._markers):
            for stem in [s for s in memory if not keep(s.run)]:
                del memory[stem]

    def read(
        self, stem: HarvestStem, output: HarvestOutput, findings: Findings, run: RunScope | None
    ) -> None:
        """Read what of ``output`` is new or changed: the pair of ``.db`` and ``.txt``, and
        the upload marker."""
        if "db" in output.files and "txt" in output.files:
            stamps = (output.stamps["db"], output.stamps["txt"])
            if self._harvested.get(stem) != stamps:
                try:
                    self._read_harvest(stem, output, findings)
                    self._harvested[stem] = stamps
                    findings.item_ok(run, output.path("db").name)
                    findings.item_ok(run, output.path("txt").name)
                except UnreadableFile as bad:
                    _report(stem, bad, findings)
        marker_stamp = output.stamps.get("txt.uploaded")
        if marker_stamp is not None and self._markers.get(stem) != marker_stamp:
            marker = output.path("txt.uploaded")
            try:
                self._read_marker(stem, marker, marker_stamp, findings)
                self._markers[stem] = marker_stamp
                findings.item_ok(run, marker.name)
            except UnreadableFile as bad:
                _report(stem, bad, findings)

    def _read_harvest(self, stem: HarvestStem, output: HarvestOutput, findings: Findings) -> None:
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


def _report(stem: HarvestStem, bad: UnreadableFile, findings: Findings) -> None:
    # Evidence on this file only, never permanent: a file being written becomes readable, a
    # fixed file is read again (it is not remembered as read).
    findings.item_problem(
        stem.run,
        bad.path.name,
        bad.message,
        raw=bad.raw,
        url=str(bad.path),
        input_tag=stem.input_tag,
    )
