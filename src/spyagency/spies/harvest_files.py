"""Reading one harvest-area file: its name, its upload metadata, its sqlite payloads, and the
hash under which the upload service files its log.

Names follow WMCore's AlcaHarvest executor: ``Run<run>@<inputTag>@<uuid>.{db,txt,txt.uploaded}``.
The ``.txt`` holds two lines, ``prepMetaData <json>`` and ``prodMetaData <json>``; the
``.txt.uploaded`` marker the Tier-0 writes just before uploading is that file with only the
chosen line kept and its prefix removed (dmwm/T0 ``ConditionUploadAPI.py``, ``uploadPayload``):
one bare JSON line.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import json
import os
import re
import sqlite3
import sys
import tarfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from spyagency.spies.documents import loads_strict
from spyagency.spies.failures import SchemaViolation, SourceFailure
from spyagency.spies.parsing import as_mapping, compact, optional_str

FILE_NAME = re.compile(
    r"^Run(?P<run>[1-9][0-9]{1,6})@(?P<tag>[A-Za-z0-9_.-]+)@(?P<uuid>[A-Za-z0-9-]+)"
    r"\.(?P<kind>db|txt|txt\.uploaded)$"
)
PROD_KEY, PREP_KEY = "prodMetaData", "prepMetaData"
METADATA_KEYS = (PROD_KEY, PREP_KEY)  # the production line wins
IOV_HASHES = (
    'SELECT "PAYLOAD_HASH" FROM "IOV" WHERE "TAG_NAME" = ? ORDER BY "SINCE", "INSERTION_TIME"'
)
SQLITE_TIMEOUT = 0.5  # seconds; a locked harvest file is simply retried next cycle


class HarvestStem(NamedTuple):
    """What the three files of one harvest output have in common.

    A tuple rather than a dataclass: the harvest spy hashes and sorts stems of every file of
    the runs in scope each cycle, and a tuple does both without running Python code.
    """

    run: int
    input_tag: str
    uuid: str


def parse_file_name(name: str) -> tuple[HarvestStem, str] | None:
    """The stem and kind (``db``, ``txt``, ``txt.uploaded``), or None for any other file."""
    match = FILE_NAME.fullmatch(name)
    if match is None:
        return None
    # A year holds tens of thousands of names but only a few dozen tags: share the tag strings,
    # since the harvest spy keeps every parsed name of the folders it lists.
    stem = HarvestStem(int(match["run"]), sys.intern(match["tag"]), match["uuid"])
    return stem, match["kind"]


@dataclass(frozen=True)
class UploadMetadata:
    destination_tags: tuple[str, ...]
    input_tag: str | None
    since: int | None
    # The JSON text of the ``prodMetaData`` line, as the Tier-0 uploads it; None when the
    # text has no such line (a marker, a prep-only file).
    prod_json: str | None = None


def metadata_lines(text: str) -> dict[str, str]:
    """The JSON text of each line: ``prodMetaData``/``prepMetaData`` by prefix, and a bare
    JSON line (the upload marker) under ``""``. The first line of each kind counts."""
    lines: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("{"):
            lines.setdefault("", stripped)
            continue
        key, _, rest = stripped.partition(" ")
        if key in METADATA_KEYS:
            lines.setdefault(key, rest)
    return lines


def parse_metadata(text: str) -> UploadMetadata:
    """The metadata of a ``.txt`` (its ``prodMetaData`` line, ``prepMetaData`` if it is the
    only one) or of a ``.txt.uploaded`` marker (one bare JSON line; the prefixed form is
    accepted too, as older markers or hand-made copies may carry it)."""
    lines = metadata_lines(text)
    chosen = next((lines[k] for k in (*METADATA_KEYS, "") if k in lines), None)
    if chosen is None:
        raise SchemaViolation("no prodMetaData, prepMetaData or bare JSON line", text)
    document = as_mapping(loads_strict(chosen), "upload metadata")
    tags = document.get("destinationTags")
    if not isinstance(tags, dict) or not tags or not all(isinstance(t, str) for t in tags):
        raise SchemaViolation("destinationTags must be a non-empty object", compact(document))
    since = document.get("since")
    if since is not None and (isinstance(since, bool) or not isinstance(since, int)):
        raise SchemaViolation("since must be an integer or null", compact(document))
    return UploadMetadata(
        tuple(tags), optional_str(document, "inputTag"), since, lines.get(PROD_KEY)
    )


def file_sha1(path: Path) -> str:
    """The sha1 of the file's bytes (shown to operators; the log is filed under the upload
    tarball's hash, ``upload_hash``)."""
    digest = hashlib.sha1(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _HashingSink:
    """A write-only file that keeps only the sha1 of what is written: the tarball is never
    held in memory or on disk."""

    def __init__(self) -> None:
        self.digest = hashlib.sha1(usedforsecurity=False)

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return len(data)

    def flush(self) -> None:
        return None


def _normalised_member(name: str, size: int) -> tarfile.TarInfo:
    """A tar header as the upload script writes it (``addToTarFile``): mode 0400, owner
    root (uid/gid 0), mtime 0, so the tarball depends on the contents only."""
    info = tarfile.TarInfo(name)
    info.size, info.mode = size, 0o400
    info.uid = info.gid = info.mtime = 0
    info.uname = info.gname = "root"
    return info


def upload_hash(db: BinaryIO, db_size: int, metadata_json: str) -> str:
    """The sha1 of ``upload.tar.bz2`` as dmwm/T0 ``ConditionUpload/upload.py`` (``uploadFile``)
    builds it for ``db`` and the metadata JSON the Tier-0 uploads: ``data.db`` then
    ``metadata.txt`` (the JSON loaded and dumped again with sorted keys and an indent of 4),
    in a bz2 tar (Python's default tar format and compression level 9). The upload service
    files the upload's log under this hash. Raises ``ValueError`` when the JSON does not
    load (the Tier-0's upload would fail the same way)."""
    metadata = json.dumps(json.loads(metadata_json), sort_keys=True, indent=4).encode()
    sink = _HashingSink()
    with (
        bz2.BZ2File(sink, "wb", compresslevel=9) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        tar.addfile(_normalised_member("data.db", db_size), db)
        tar.addfile(_normalised_member("metadata.txt", len(metadata)), io.BytesIO(metadata))
    return sink.digest.hexdigest()


def db_hashes(path: Path, prod_json: str | None) -> tuple[str, str | None]:
    """(sha1 of the .db, sha1 of its upload tarball or None without production metadata),
    reading the file once."""
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        reader = _HashingReader(handle)
        upload = None
        if prod_json is not None:
            try:
                upload = upload_hash(reader, size, prod_json)  # type: ignore[arg-type]
            except ValueError:
                upload = None  # not loadable JSON: the Tier-0 could not upload it either
        reader.read_rest()
    return reader.digest.hexdigest(), upload


class _HashingReader:
    """Reads a file for the tarball while hashing what passes, so the .db is read once."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.digest = hashlib.sha1(usedforsecurity=False)

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data

    def read_rest(self) -> None:
        for chunk in iter(lambda: self.read(1 << 20), b""):
            del chunk


def payload_hashes(path: Path, tag: str) -> tuple[str, ...]:
    """Payload hashes of ``tag``'s IOVs in a harvested sqlite file, in since order.

    Falls back to every payload of the file when no IOV names the tag, so a file whose tag
    name differs from its metadata still shows what it carries.
    """
    uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=SQLITE_TIMEOUT)
    except sqlite3.Error as bad:
        raise SourceFailure(f"cannot open {path.name}: {bad}", url=str(path)) from None
    try:
        rows: list[Any] = connection.execute(IOV_HASHES, (tag,)).fetchall()
        if not rows:
            rows = connection.execute('SELECT "HASH" FROM "PAYLOAD" ORDER BY "HASH"').fetchall()
    except sqlite3.Error as bad:
        raise SourceFailure(f"cannot read {path.name}: {bad}", url=str(path)) from None
    finally:
        connection.close()
    hashes = [str(row[0]) for row in rows if row[0] is not None]
    return tuple(dict.fromkeys(hashes))


class UnreadableFile(Exception):
    """One file of an output could not be read: an item problem on that file."""

    def __init__(self, path: Path, message: str, raw: str = "") -> None:
        super().__init__(message)
        self.path, self.message, self.raw = path, message, raw


def unreadable(bad: Exception, path: Path, raw: str = "") -> UnreadableFile:
    """The item problem of ``path`` for a read that failed with ``bad``."""
    if isinstance(bad, SourceFailure):
        return UnreadableFile(path, bad.message, bad.raw or raw)
    if isinstance(bad, SchemaViolation):
        return UnreadableFile(path, f"{path.name}: {bad.message}", raw or bad.raw)
    return UnreadableFile(path, f"cannot read {path.name}: {bad}", raw)
