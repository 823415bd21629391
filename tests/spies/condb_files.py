"""CondDB-schema sqlite files for the tests, written by hand from the CondDB schema
(cms-sw/cmssw CondCore/CondDB/src/IOVSchema.h, as docs/protocols.md describes it)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

DDL = """
CREATE TABLE TAG (NAME TEXT PRIMARY KEY, TIME_TYPE TEXT NOT NULL, OBJECT_TYPE TEXT NOT NULL,
  SYNCHRONIZATION TEXT NOT NULL, DESCRIPTION TEXT NOT NULL, LAST_VALIDATED_TIME INTEGER NOT NULL,
  END_OF_VALIDITY INTEGER NOT NULL, INSERTION_TIME TIMESTAMP NOT NULL,
  MODIFICATION_TIME TIMESTAMP NOT NULL, PROTECTION_CODE INTEGER NOT NULL DEFAULT 0);
CREATE TABLE PAYLOAD (HASH TEXT PRIMARY KEY, OBJECT_TYPE TEXT NOT NULL, DATA BLOB NOT NULL,
  STREAMER_INFO BLOB NOT NULL, VERSION TEXT NOT NULL, INSERTION_TIME TIMESTAMP NOT NULL);
CREATE TABLE IOV (TAG_NAME TEXT NOT NULL, SINCE INTEGER NOT NULL,
  INSERTION_TIME TIMESTAMP NOT NULL, PAYLOAD_HASH TEXT NOT NULL,
  PRIMARY KEY (TAG_NAME, SINCE, INSERTION_TIME));
CREATE TABLE GLOBAL_TAG (NAME TEXT PRIMARY KEY, VALIDITY INTEGER NOT NULL,
  DESCRIPTION TEXT NOT NULL, RELEASE TEXT NOT NULL, INSERTION_TIME TIMESTAMP NOT NULL,
  SNAPSHOT_TIME TIMESTAMP NOT NULL);
CREATE TABLE GLOBAL_TAG_MAP (GLOBAL_TAG_NAME TEXT NOT NULL, RECORD TEXT NOT NULL,
  LABEL TEXT NOT NULL, TAG_NAME TEXT NOT NULL, PRIMARY KEY (GLOBAL_TAG_NAME, RECORD, LABEL));
"""


def payload_hash(data: str) -> str:
    return hashlib.sha1(data.encode()).hexdigest()


def stamp(moment: datetime) -> str:
    """How SQLAlchemy stores a naive UTC DateTime in sqlite."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


class CondDbFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        with closing(self.connect()) as connection:
            connection.executescript(DDL)

    def connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, isolation_level=None)

    def tag(self, name: str, time_type: str = "Run", synchronization: str = "pcl") -> None:
        now = stamp(datetime(2026, 1, 1, tzinfo=UTC))
        with closing(self.connect()) as c:
            c.execute(
                "INSERT INTO TAG VALUES (?,?,?,?,?,?,?,?,?,?)",
                (name, time_type, "BeamSpotObjects", synchronization, "", 0, -1, now, now, 0),
            )

    def iov(self, tag: str, since: int, inserted: datetime | str, data: str) -> str:
        digest = payload_hash(data)
        when = inserted if isinstance(inserted, str) else stamp(inserted)
        with closing(self.connect()) as connection:
            connection.execute(
                "INSERT OR IGNORE INTO PAYLOAD VALUES (?,?,?,?,?,?)",
                (digest, "BeamSpotObjects", data.encode(), b"", "1", when),
            )
            connection.execute("INSERT INTO IOV VALUES (?,?,?,?)", (tag, since, when, digest))
        return digest

    def map_tag(self, global_tag: str, record: str, tag: str) -> None:
        with closing(self.connect()) as connection:
            connection.execute(
                "INSERT INTO GLOBAL_TAG_MAP VALUES (?,?,?,?)", (global_tag, record, "", tag)
            )


def metadata_text(tags: list[str], input_tag: str, since: int | None) -> str:
    def line(database: str) -> str:
        body: dict[str, object] = {
            "destinationDatabase": database,
            "destinationTags": {t: {} for t in tags},
            "inputTag": input_tag,
            "since": since,
            "userText": "T0 PCL Upload",
        }
        return json.dumps(body)

    prep = line("oracle://cms_orcoff_prep/CMS_CONDITIONS")
    prod = line("oracle://cms_orcon_prod/CMS_CONDITIONS")
    return f"prepMetaData {prep}\nprodMetaData {prod}\n"


def set_mtime(path: Path, moment: datetime) -> None:
    os.utime(path, (moment.timestamp(), moment.timestamp()))


def write_harvest(
    folder: Path,
    run: int,
    input_tag: str,
    uuid: str,
    *,
    sinces: list[int],
    tags: list[str],
    created: datetime,
    since: int | None = None,
) -> tuple[Path, list[str]]:
    """A harvested ``.db`` with one IOV per since, and its ``.txt`` metadata."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"Run{run}@{input_tag}@{uuid}"
    db = CondDbFile(folder / f"{stem}.db")
    db.tag(input_tag, "Run" if since is not None else "Lumi", "any")
    hashes = [db.iov(input_tag, s, created, f"{stem}:{s}") for s in sinces]
    txt = folder / f"{stem}.txt"
    txt.write_text(metadata_text(tags, input_tag, since))
    set_mtime(db.path, created)
    set_mtime(txt, created)
    return db.path, hashes


def write_marker(
    folder: Path, run: int, input_tag: str, uuid: str, tags: list[str], at: datetime
) -> Path:
    marker = folder / f"Run{run}@{input_tag}@{uuid}.txt.uploaded"
    marker.write_text(metadata_text(tags, input_tag, run))
    set_mtime(marker, at)
    return marker
