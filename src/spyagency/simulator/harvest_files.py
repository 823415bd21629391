"""The Tier-0 harvest area: ``Run<run>@<inputTag>@<uuid>.db/.txt/.txt.uploaded`` per output.

Folders are ``<root>/<year>/`` (the year of the run's start, as the Tier-0 fixes it when the
run is configured). The ``.txt`` holds ``prepMetaData <json>`` and ``prodMetaData <json>``;
the ``.txt.uploaded`` marker is the production line alone without its prefix, as the Tier-0
writes it just before uploading. The upload service files its log under the sha1 of the
upload tarball (``upload.tar.bz2``: ``data.db`` and ``metadata.txt``), built here the way the
Tier-0's upload script builds it.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import sqlite3
import tarfile
from pathlib import Path
from typing import Any

from spyagency.simulator.condb_schema import (
    END_OF_VALIDITY_INFINITE,
    TIME_TYPE_NAMES,
    create_schema,
)
from spyagency.simulator.plan import OutputPlan
from spyagency.simulator.timefmt import sqlite_timestamp, to_datetime

PROD_DATABASE = "oracle://cms_orcon_prod/CMS_CONDITIONS"
PREP_DATABASE = "oracle://cms_orcoff_prep/CMS_CONDITIONS"
LFN_ROOT = "/store/express/tier0_harvest"


def year_dir(root: Path, run_start: float) -> Path:
    return root / str(to_datetime(run_start).year)


def lfn(out: OutputPlan, run_start: float, suffix: str) -> str:
    return f"{LFN_ROOT}/{to_datetime(run_start).year}/{out.file_stem}{suffix}"


def metadata(out: OutputPlan, database: str) -> dict[str, Any]:
    """uploadConditions metadata; ``since`` is given for by-run tags, left to the file for lumi.
    ``destinationTags`` names every destination of the output (its ``_prod.json`` list)."""
    since = out.iovs[0].since if out.spec.time_type == "run" else None
    return {
        "destinationDatabase": database,
        "destinationTags": {tag: {} for tag in out.spec.destination_tags},
        "inputTag": out.spec.input_tag,
        "since": since,
        "userText": f"T0 PCL Upload for Run {out.run} ({out.workflow}, stream {out.stream})",
    }


def metadata_text(out: OutputPlan) -> str:
    prep = json.dumps(metadata(out, PREP_DATABASE), sort_keys=True)
    return f"prepMetaData {prep}\nprodMetaData {prod_metadata_line(out)}\n"


def prod_metadata_line(out: OutputPlan) -> str:
    return json.dumps(metadata(out, PROD_DATABASE), sort_keys=True)


def marker_text(out: OutputPlan) -> str:
    """The ``.txt`` with the production line kept and its ``prodMetaData `` prefix removed."""
    return prod_metadata_line(out) + "\n"


def upload_tarball(image: bytes, out: OutputPlan) -> bytes:
    """``upload.tar.bz2`` as the upload script makes it: the sqlite as ``data.db``, then the
    production metadata dumped with sorted keys and an indent of 4 as ``metadata.txt``, each
    header owned by root (uid/gid 0) with mode 0400 and mtime 0, bz2 at its default level."""
    document = json.dumps(metadata(out, PROD_DATABASE), sort_keys=True, indent=4).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as tar:
        for name, data in (("data.db", image), ("metadata.txt", document)):
            member = tarfile.TarInfo(name)
            member.size, member.mode, member.mtime = len(data), 0o400, 0
            member.uid, member.gid, member.uname, member.gname = 0, 0, "root", "root"
            tar.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


@functools.cache
def _empty_schema_bytes() -> bytes:
    """An empty CondDB-schema sqlite image, built once: loading it beats running the DDL for
    each of the ~17,000 files of a production year."""
    conn = sqlite3.connect(":memory:")
    try:
        create_schema(conn)
        conn.commit()
        return conn.serialize()
    finally:
        conn.close()


def sqlite_image(out: OutputPlan) -> bytes:
    """The bytes of one harvest output's sqlite file, built in memory (no file round trips)."""
    stamp = sqlite_timestamp(out.created_at)
    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(_empty_schema_bytes())
        conn.execute(
            "INSERT INTO TAG VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                out.spec.input_tag,
                TIME_TYPE_NAMES[out.spec.time_type],
                out.spec.object_type,
                "any",
                f"PCL harvest of {out.workflow}",
                0,
                END_OF_VALIDITY_INFINITE,
                stamp,
                stamp,
                0,
            ),
        )
        for iov in out.iovs:
            conn.execute(
                "INSERT OR IGNORE INTO PAYLOAD VALUES (?,?,?,?,?,?)",
                (iov.payload_hash, out.spec.object_type, iov.payload_data, b"", "3.2", stamp),
            )
            conn.execute(
                "INSERT INTO IOV VALUES (?,?,?,?)",
                (out.spec.input_tag, iov.since, stamp, iov.payload_hash),
            )
        conn.commit()
        return conn.serialize()
    finally:
        conn.close()


def write_harvest_output(root: Path, out: OutputPlan, run_start: float) -> str:
    """Write the .db and .txt of one output atomically; return the sha1 of its upload tarball
    (the key of its upload log)."""
    folder = year_dir(root, run_start)
    folder.mkdir(parents=True, exist_ok=True)
    final_db = folder / f"{out.file_stem}.db"
    image = sqlite_image(out)
    _write_atomic_bytes(final_db, image)
    txt = folder / f"{out.file_stem}.txt"
    _write_atomic(txt, metadata_text(out))
    for path in (final_db, txt):
        os.utime(path, (out.created_at, out.created_at))
    return hashlib.sha1(upload_tarball(image, out)).hexdigest()  # noqa: S324


def corrupt_harvest_output(root: Path, out: OutputPlan, run_start: float, *, txt: bool) -> None:
    """Make the output's ``.db`` read as garbage (and its ``.txt`` as half its text when
    ``txt``), atomically, its mtime kept at its creation: ``write_harvest_output`` puts the
    real files back. The garbage is no sqlite ("file is not a database") and its length is
    no multiple of a page, so it never has the size of the real file: a reader that
    remembers (mtime, size) sees each change."""
    folder = year_dir(root, run_start)
    stem = hashlib.sha1(out.key.encode()).hexdigest().encode()  # noqa: S324
    paths = [folder / f"{out.file_stem}.db"]
    _write_atomic_bytes(paths[0], b"\0simulated corruption of a harvest output\0" + stem * 20)
    if txt:
        text = metadata_text(out)
        paths.append(folder / f"{out.file_stem}.txt")
        _write_atomic(paths[1], text[: len(text) // 2])
    for path in paths:
        os.utime(path, (out.created_at, out.created_at))


def write_uploaded_marker(root: Path, out: OutputPlan, run_start: float, at: float) -> Path:
    marker = year_dir(root, run_start) / f"{out.file_stem}.txt.uploaded"
    _write_atomic(marker, marker_text(out))
    os.utime(marker, (at, at))
    return marker


def _write_atomic(path: Path, text: str) -> None:
    _write_atomic_bytes(path, text.encode("utf-8"))


def _write_atomic_bytes(path: Path, data: bytes) -> None:
    # A reader polling the area never sees a half-written file: write aside, then rename.
    temp = path.with_name(f".{path.name}.part")
    temp.write_bytes(data)
    os.replace(temp, path)
