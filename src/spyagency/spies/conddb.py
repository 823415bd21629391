"""The conditions database spy: which IOVs cover each open run in its destination tags, and
which tags the Prompt global tags map.

Per cycle: one query for the time types of the tags in scope, one query per destination tag
(for all open runs using it), one query for the global-tag maps. Each runs in a worker thread
because database drivers block.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, Select, create_engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from spyagency.domain.facts import GlobalTagMap, IovSeen
from spyagency.domain.iov import TimeType
from spyagency.domain.states import Source
from spyagency.spies.conddb_queries import (
    CHUNK,
    CandidateRows,
    IovRow,
    RawIov,
    global_tag_maps,
    iov_candidates,
    iov_candidates_statement,
    time_types,
    to_iov_row,
)
from spyagency.spies.conddb_schema import CondDbTables, conddb_tables
from spyagency.spies.failures import SchemaViolation
from spyagency.spies.parsing import compact
from spyagency.spies.report import Clock, Findings, run_poll, utc_now
from spyagency.spies.scope import PollScope, SpyReport

ADDRESSABLE = (TimeType.RUN, TimeType.LUMI)


def sqlite_readonly_url(path: Path) -> str:
    """A SQLAlchemy URL opening a CondDB sqlite file read-only (never creates or locks it)."""
    quoted = urllib.parse.quote(str(Path(path).resolve()))
    return f"sqlite:///file:{quoted}?mode=ro&uri=true"


def sqlite_file_of(url: URL) -> Path | None:
    """The file a sqlite URL opens; None for other databases and in-memory sqlite."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if str(url.query.get("uri", "")).lower() in {"true", "1"}:
        if not database.startswith("file:") or database.startswith("file://"):
            return None  # an authority or a special name: not worth guessing
        database = database.removeprefix("file:")
    return Path(database)


def _file_identity(path: Path) -> tuple[int, int] | None:
    """Which file ``path`` names now (device, inode); None when there is none."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _describe(bad: SQLAlchemyError) -> str:
    # The driver's own message says what happened; SQLAlchemy's adds the whole statement.
    return str(getattr(bad, "orig", None) or bad).splitlines()[0][:300]


def _parse(tag: str, raw: RawIov, findings: Findings) -> tuple[IovRow, str] | None:
    """One IOV row and its evidence text, or None after reporting why it is unusable."""
    try:
        row = to_iov_row(*raw)
    except SchemaViolation as bad:
        findings.error(f"tag {tag}: {bad.message}", raw=repr(raw), permanent=True)
        return None
    evidence = compact(
        {
            "TAG_NAME": tag,
            "SINCE": row.since,
            "INSERTION_TIME": row.insertion_time.isoformat(),
            "PAYLOAD_HASH": row.payload_hash,
        }
    )
    return row, evidence


class _ParsedRows:
    """Parsed IOV rows and their evidence, kept from one poll to the next: a row, once
    written, never changes (its key includes its insertion time), so parsing it again gives
    the same. Only rows read in the latest poll are kept, so the memory follows the open
    runs; losing it (a restart) only means parsing again. Bad rows are never kept: they are
    reported at every poll, as before."""

    def __init__(self) -> None:
        self._previous: dict[tuple[str, RawIov], tuple[IovRow, str]] = {}
        self._current: dict[tuple[str, RawIov], tuple[IovRow, str]] = {}

    def start_poll(self) -> None:
        self._previous, self._current = self._current, {}

    def parse(self, tag: str, raw: RawIov, findings: Findings) -> tuple[IovRow, str] | None:
        key = (tag, raw)
        try:
            known = self._current.get(key) or self._previous.get(key)
        except TypeError:  # a driver value that cannot be a key: just parse it
            return _parse(tag, raw, findings)
        if known is None:
            known = _parse(tag, raw, findings)
            if known is None:
                return None
        self._current[key] = known
        return known


class CondDbSpy:
    """Reads TAG, IOV and GLOBAL_TAG_MAP through SQLAlchemy Core.

    ``url`` is any SQLAlchemy URL (``oracle+oracledb://...`` in thin mode, ``postgresql+psycopg
    ://...``, or ``sqlite_readonly_url(path)``); ``schema`` is e.g. ``CMS_CONDITIONS``. An
    ``engine`` may be given instead (tests, shared pools); the spy then does not dispose it.

    A sqlite file is read through one pooled connection kept across polls (cheaper than
    opening the file each poll). An open connection keeps reading the file it opened, so when
    the path names another file (a copy swapped in) or a poll failed, the pool is emptied
    and the next poll opens the path afresh.
    """

    source = Source.CONDDB

    def __init__(
        self,
        url: str | None = None,
        *,
        engine: Engine | None = None,
        schema: str | None = None,
        clock: Clock = utc_now,
        connect_args: Mapping[str, Any] | None = None,
    ) -> None:
        if (url is None) == (engine is None):
            raise ValueError("give exactly one of url or engine")
        self.url = url
        self._engine = engine
        self._owns_engine = engine is None
        self._connect_args = dict(connect_args or {})
        self.schema = schema
        self.clock = clock
        self._tables: CondDbTables | None = None
        self._iov_select: Select[Any, Any, Any] | None = None
        self._rows = _ParsedRows()
        self.queries = 0
        # The sqlite file an owned engine reads, and which file that path named when the
        # pooled connection was opened (taken before opening: a swap in between only
        # costs one more reopen).
        self._file = sqlite_file_of(make_url(url)) if url is not None else None
        self._file_opened: tuple[int, int] | None = None
        self._reopen = False

    def _connect(self) -> Connection:
        if self._engine is None:
            assert self.url is not None
            self._engine = create_engine(self.url, connect_args=self._connect_args)
        if self._tables is None:
            self._tables = conddb_tables(self.schema)
        if self._file is not None:
            identity = _file_identity(self._file)
            if identity != self._file_opened or self._reopen:
                self._engine.dispose()  # no connection is checked out between polls
                self._file_opened, self._reopen = identity, False
        return self._engine.connect()

    def _unavailable(self, findings: Findings, what: str, bad: SQLAlchemyError) -> None:
        """Report a failed statement; a sqlite file is opened afresh at the next poll, so a
        connection left on a garbage or vanished file cannot outlive the fault."""
        self._reopen = True
        findings.error(f"{what}: {_describe(bad)}", raw=str(bad))

    async def poll(self, scope: PollScope) -> SpyReport:
        async def collect(findings: Findings) -> None:
            findings.extend(await asyncio.to_thread(self._read, scope, findings.child()))

        return await run_poll(self.source, self.clock, collect, lambda: self.queries)

    async def aclose(self) -> None:
        if self._owns_engine and self._engine is not None:
            await asyncio.to_thread(self._engine.dispose)
            self._engine = None

    def _read(self, scope: PollScope, findings: Findings) -> Findings:
        runs_by_tag: dict[str, set[int]] = {}
        for run in scope.runs:
            for workflow in run.workflows:
                for tag in workflow.destination_tags:
                    runs_by_tag.setdefault(tag, set()).add(run.run)
        if not runs_by_tag and not scope.prompt_global_tags:
            return findings
        self._rows.start_poll()
        try:
            with self._connect() as connection:
                if runs_by_tag:
                    self._read_iovs(connection, runs_by_tag, findings)
                if scope.prompt_global_tags:
                    self._read_global_tags(connection, scope.prompt_global_tags, findings)
        except SQLAlchemyError as bad:
            self._unavailable(findings, "conditions database unavailable", bad)
        return findings

    def _tables_(self) -> CondDbTables:
        assert self._tables is not None
        return self._tables

    def _iov_statement(self) -> Select[Any, Any, Any]:
        # Built once: a statement object reused with new bind values skips SQLAlchemy's
        # construction and hits its compiled cache.
        if self._iov_select is None:
            self._iov_select = iov_candidates_statement(self._tables_())
        return self._iov_select

    def _read_iovs(
        self, connection: Connection, runs_by_tag: dict[str, set[int]], findings: Findings
    ) -> None:
        tags = sorted(runs_by_tag)
        self.queries += -(-len(tags) // CHUNK)
        try:
            types = time_types(connection, self._tables_(), tags)
        except SQLAlchemyError as bad:
            connection.rollback()
            self._unavailable(findings, "cannot read TAG", bad)
            return
        for tag in tags:
            if tag not in types:
                continue  # not created yet: no IOV can exist for it
            try:
                time_type = TimeType.parse(types[tag])
            except ValueError as bad:
                findings.error(f"tag {tag}: {bad}", raw=types[tag], permanent=True)
                continue
            if time_type not in ADDRESSABLE:
                message = f"tag {tag}: {time_type} IOVs do not name runs"
                findings.error(message, permanent=True)
                continue
            self._read_tag(connection, tag, time_type, sorted(runs_by_tag[tag]), findings)

    def _read_tag(
        self,
        connection: Connection,
        tag: str,
        time_type: TimeType,
        runs: list[int],
        findings: Findings,
    ) -> None:
        self.queries += 1
        try:
            raw_rows = iov_candidates(connection, self._iov_statement(), tag, time_type, runs)
        except SQLAlchemyError as bad:
            connection.rollback()
            self._unavailable(findings, f"cannot read IOVs of {tag}", bad)
            return
        candidates = CandidateRows(raw_rows)
        for raw, violation in candidates.unplaceable:
            findings.error(f"tag {tag}: {violation.message}", raw=repr(raw), permanent=True)
        # Position -> parsed row and its evidence, or None for a bad row (reported once).
        parsed: dict[int, tuple[IovRow, str] | None] = {}
        for run in runs:
            for position in candidates.covering(run, time_type):
                if position not in parsed:
                    parsed[position] = self._rows.parse(tag, candidates.raws[position], findings)
                seen = parsed[position]
                if seen is None:
                    continue
                row, evidence = seen
                fact = IovSeen(
                    run=run,
                    tag=tag,
                    time_type=time_type,
                    since=row.since,
                    insertion_time=row.insertion_time,
                    payload_hash=row.payload_hash,
                )
                findings.observe(fact, raw=evidence, fact_time=row.insertion_time)

    def _read_global_tags(
        self, connection: Connection, global_tags: tuple[str, ...], findings: Findings
    ) -> None:
        self.queries += -(-len(set(global_tags)) // CHUNK)
        try:
            maps = global_tag_maps(connection, self._tables_(), global_tags)
        except SQLAlchemyError as bad:
            connection.rollback()
            self._unavailable(findings, "cannot read GLOBAL_TAG_MAP", bad)
            return
        for global_tag in sorted(maps):
            tags = tuple(sorted(set(maps[global_tag])))
            findings.observe(GlobalTagMap(global_tag, tags), raw=compact({global_tag: list(tags)}))
