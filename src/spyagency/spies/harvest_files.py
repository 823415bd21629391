"""Reading one harvest-area file: its name, its upload metadata, its sqlite payloads.

Names follow WMCore's AlcaHarvest executor: ``Run<run>@<inputTag>@<uuid>.{db,txt,txt.uploaded}``.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from spyagency.spies.documents import loads_strict
from spyagency.spies.failures import SchemaViolation, SourceFailure
from spyagency.spies.parsing import as_mapping, compact, optional_str

FILE_NAME = re.compile(
    r"^Run(?P<run>[1-9][0-9]{1,6})@(?P<tag>[A-Za-z0-9_.-]+)@(?P<uuid>[A-Za-z0-9-]+)"
    r"\.(?P<kind>db|txt|txt\.uploaded)$"
)
METADATA_KEYS = ("prodMetaData", "prepMetaData")  # the production line wins
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


def parse_metadata(text: str) -> UploadMetadata:
    """The ``prodMetaData`` line (``prepMetaData`` if it is the only one) of a .txt file."""
    lines: dict[str, str] = {}
    for line in text.splitlines():
        key, _, rest = line.strip().partition(" ")
        if key in METADATA_KEYS and key not in lines:
            lines[key] = rest
    chosen = next((lines[k] for k in METADATA_KEYS if k in lines), None)
    if chosen is None:
        raise SchemaViolation("no prodMetaData or prepMetaData line", text)
    document = as_mapping(loads_strict(chosen), "upload metadata")
    tags = document.get("destinationTags")
    if not isinstance(tags, dict) or not tags or not all(isinstance(t, str) for t in tags):
        raise SchemaViolation("destinationTags must be a non-empty object", compact(document))
    since = document.get("since")
    if since is not None and (isinstance(since, bool) or not isinstance(since, int)):
        raise SchemaViolation("since must be an integer or null", compact(document))
    return UploadMetadata(tuple(tags), optional_str(document, "inputTag"), since)


def file_sha1(path: Path) -> str:
    """The sha1 of the file's bytes: the upload service logs files under this hash."""
    digest = hashlib.sha1(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
