"""The central conditions database: one sqlite file with the real CondDB tables.

Every write is a short transaction, so a concurrent reader (the agency) only ever waits
milliseconds, and the file can be locked or swapped away by fault windows. The writer keeps one
connection open (a year holds ~20,000 writes): it stays on the file's inode, so while a fault
window hides the real file behind garbage the upload service still writes into the real one.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from spyagency.simulator.catalogue import PclOutput
from spyagency.simulator.condb_schema import (
    END_OF_VALIDITY_INFINITE,
    TIME_TYPE_NAMES,
    create_schema,
)
from spyagency.simulator.timefmt import sqlite_timestamp

UPLOAD_USER = "cmsdbupload"
UPLOAD_HOST = "cms-conddb-1.cern.ch"
GARBAGE = b"this is not an sqlite database: the simulator made the CondDB unreadable\n"


BASELINE_AGE_S = 30 * 86400


@dataclass(frozen=True)
class IovWrite:
    since: int
    payload_hash: str
    payload_data: bytes
    object_type: str


class CondDb:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_holder: sqlite3.Connection | None = None
        self._hidden = path.with_name(path.name + ".hidden")
        # RUN_INFO rows that arrive while a fault window blocks the file, written afterwards.
        self._pending_runs: dict[int, tuple[float, float | None]] = {}
        self._writer: sqlite3.Connection | None = None

    def _connect(self, path: Path | None = None) -> sqlite3.Connection:
        conn = sqlite3.connect(path or self.path, timeout=10.0)
        # Simulated data: durability does not matter, speed of a year-long replay does.
        conn.execute("PRAGMA synchronous=OFF")
        return conn

    def _write_connection(self) -> sqlite3.Connection:
        if self._writer is None:
            target = self._hidden if self.unreadable else self.path
            # Request threads take turns under the world's lock, so one connection may
            # serve them all; sqlite3 would otherwise refuse use from a second thread.
            self._writer = sqlite3.connect(target, timeout=10.0, check_same_thread=False)
            self._writer.execute("PRAGMA synchronous=OFF")
            # No journal file next to the database: the file may be renamed under us.
            self._writer.execute("PRAGMA journal_mode=MEMORY")
        return self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def initialise(
        self, global_tag: str, release: str, tags: dict[str, PclOutput], at: float
    ) -> None:
        """Create the schema, the Prompt global tag and every destination tag (``tags``: each
        tag with the output it belongs to), each tag seeded with one baseline IOV."""
        stamp = sqlite_timestamp(at)
        conn = self._connect()
        try:
            create_schema(conn)
            conn.execute(
                "INSERT OR REPLACE INTO GLOBAL_TAG VALUES (?,?,?,?,?,?)",
                (
                    global_tag,
                    END_OF_VALIDITY_INFINITE,
                    "Prompt GT of the simulated Tier-0",
                    release,
                    stamp,
                    stamp,
                ),
            )
            for name, out in sorted(tags.items()):
                conn.execute(
                    "INSERT OR REPLACE INTO TAG VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        name,
                        TIME_TYPE_NAMES[out.time_type],
                        out.object_type,
                        out.synchronization,
                        f"PCL destination tag ({out.input_tag})",
                        0,
                        END_OF_VALIDITY_INFINITE,
                        stamp,
                        stamp,
                        0,
                    ),
                )
                if name == out.prompt_gt_tag:
                    # One tag per record and label in a global tag: an output's other
                    # destinations belong to the HLT and Express global tags.
                    conn.execute(
                        "INSERT OR REPLACE INTO GLOBAL_TAG_MAP VALUES (?,?,?,?)",
                        (global_tag, out.record, out.label, name),
                    )
                # Every destination tag, not only the mapped one, has its earlier history.
                self._baseline(conn, name, out, at)
            conn.commit()
        finally:
            conn.close()

    @staticmethod
    def _baseline(conn: sqlite3.Connection, tag: str, out: PclOutput, at: float) -> None:
        """Every real tag has history: one IOV from the first run (or lumi), a month old,
        so a run whose calibration produced nothing is still covered by earlier conditions."""
        data = f"baseline payload of {tag}".encode()
        payload_hash = hashlib.sha1(data, usedforsecurity=False).hexdigest()
        stamp = sqlite_timestamp(at - BASELINE_AGE_S)
        since = 1 if TIME_TYPE_NAMES[out.time_type] == "Run" else (1 << 32) | 1
        conn.execute(
            "INSERT OR IGNORE INTO PAYLOAD VALUES (?,?,?,?,?,?)",
            (payload_hash, out.object_type, data, b"", "3.2", stamp),
        )
        conn.execute("INSERT INTO IOV VALUES (?,?,?,?)", (tag, since, stamp, payload_hash))

    def record_run(self, run: int, start: float, end: float | None) -> None:
        self._pending_runs[run] = (start, end)
        if not (self.locked or self.unreadable):
            self._flush_runs()

    def _flush_runs(self) -> None:
        # RUN_INFO has no NULL end: while the run goes on, END_TIME repeats START_TIME.
        conn = self._write_connection()
        for run, (start, end) in sorted(self._pending_runs.items()):
            conn.execute(
                "INSERT OR REPLACE INTO RUN_INFO VALUES (?,?,?)",
                (run, sqlite_timestamp(start), sqlite_timestamp(end if end else start)),
            )
        conn.commit()
        self._pending_runs.clear()

    def insert_iovs(
        self, tags: Sequence[str], iovs: list[IovWrite], at: float, user_text: str
    ) -> None:
        """Write an upload: the same IOVs into each of ``tags``, in one transaction. During a
        fault window the upload service still writes: through the connection that holds the
        lock (committed when the window ends), or into the real file hidden behind the garbage
        one. Only readers suffer the fault."""
        stamp = sqlite_timestamp(at)
        holder = self._lock_holder
        conn = holder if holder is not None else self._write_connection()
        try:
            for iov in iovs:
                conn.execute(
                    "INSERT OR IGNORE INTO PAYLOAD VALUES (?,?,?,?,?,?)",
                    (iov.payload_hash, iov.object_type, iov.payload_data, b"", "3.2", stamp),
                )
            for tag in tags:
                for iov in iovs:
                    conn.execute(
                        "INSERT INTO IOV VALUES (?,?,?,?)",
                        (tag, iov.since, stamp, iov.payload_hash),
                    )
                conn.execute("UPDATE TAG SET MODIFICATION_TIME=? WHERE NAME=?", (stamp, tag))
                conn.execute(
                    "INSERT OR IGNORE INTO TAG_LOG VALUES (?,?,?,?,?,?,?)",
                    (
                        tag,
                        stamp,
                        "New iov",
                        UPLOAD_USER,
                        UPLOAD_HOST,
                        "uploadConditions",
                        user_text,
                    ),
                )
            if holder is None:
                conn.commit()
        except BaseException:
            if holder is None:
                conn.rollback()
            raise

    # --- fault windows -------------------------------------------------------------------

    @property
    def locked(self) -> bool:
        return self._lock_holder is not None

    def lock(self) -> None:
        """Hold an exclusive lock: readers and writers get 'database is locked'."""
        if self._lock_holder is None:
            conn = sqlite3.connect(
                self.path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            conn.execute("BEGIN EXCLUSIVE")
            self._lock_holder = conn

    def unlock(self) -> None:
        if self._lock_holder is not None:
            self._lock_holder.execute("COMMIT")  # uploads written during the window
            self._lock_holder.close()
            self._lock_holder = None
            self._flush_runs()

    @property
    def unreadable(self) -> bool:
        return self._hidden.exists()

    def make_unreadable(self) -> None:
        """Swap the file for garbage: readers get 'file is not a database'."""
        if not self._hidden.exists():
            os.replace(self.path, self._hidden)
            self.path.write_bytes(GARBAGE)

    def restore_readable(self) -> None:
        if self._hidden.exists():
            os.replace(self._hidden, self.path)
            self._flush_runs()
