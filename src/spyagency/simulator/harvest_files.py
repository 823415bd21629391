"""The Tier-0 harvest area: ``Run<run>@<inputTag>@<uuid>.db/.txt/.txt.uploaded`` per output."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import tempfile
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
    """uploadConditions metadata; ``since`` is given for by-run tags, left to the file for lumi."""
    since = out.iovs[0].since if out.spec.time_type == "run" else None
    return {
        "destinationDatabase": database,
        "destinationTags": {out.spec.destination_tag: {}},
        "inputTag": out.spec.input_tag,
        "since": since,
        "userText": f"T0 PCL Upload for Run {out.run} ({out.workflow}, stream {out.stream})",
    }


def metadata_text(out: OutputPlan) -> str:
    prep = json.dumps(metadata(out, PREP_DATABASE), sort_keys=True)
    prod = json.dumps(metadata(out, PROD_DATABASE), sort_keys=True)
    return f"prepMetaData {prep}\nprodMetaData {prod}\n"


@functools.cache
def _empty_schema_bytes() -> bytes:
    """An empty CondDB-schema sqlite file, built once: copying it beats running the DDL for
    each of the ~17,000 files of a production year."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "empty.db"
        conn = sqlite3.connect(path)
        try:
            create_schema(conn)
            conn.commit()
        finally:
            conn.close()
        return path.read_bytes()


def _write_sqlite(path: Path, out: OutputPlan) -> None:
    stamp = sqlite_timestamp(out.created_at)
    path.write_bytes(_empty_schema_bytes())
    conn = sqlite3.connect(path)
    try:
        # A throw-away file written once: no journal, no fsync.
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
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
    finally:
        conn.close()


def write_harvest_output(root: Path, out: OutputPlan, run_start: float) -> str:
    """Write the .db and .txt of one output atomically; return the sha1 of the .db bytes."""
    folder = year_dir(root, run_start)
    folder.mkdir(parents=True, exist_ok=True)
    final_db = folder / f"{out.file_stem}.db"
    temp_db = folder / f".{out.file_stem}.db.part"
    temp_db.unlink(missing_ok=True)
    _write_sqlite(temp_db, out)
    os.replace(temp_db, final_db)
    txt = folder / f"{out.file_stem}.txt"
    _write_atomic(txt, metadata_text(out))
    for path in (final_db, txt):
        os.utime(path, (out.created_at, out.created_at))
    return hashlib.sha1(final_db.read_bytes()).hexdigest()  # noqa: S324


def write_uploaded_marker(root: Path, out: OutputPlan, run_start: float, at: float) -> Path:
    marker = year_dir(root, run_start) / f"{out.file_stem}.txt.uploaded"
    _write_atomic(marker, metadata_text(out))
    os.utime(marker, (at, at))
    return marker


def _write_atomic(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.part")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)
