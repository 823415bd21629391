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

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError

from spyagency.domain.facts import GlobalTagMap, IovSeen
from spyagency.domain.iov import TimeType
from spyagency.domain.states import Source
from spyagency.spies.conddb_queries import (
    CHUNK,
    IovRow,
    covering,
    global_tag_maps,
    iov_candidates,
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


def _describe(bad: SQLAlchemyError) -> str:
    # The driver's own message says what happened; SQLAlchemy's adds the whole statement.
    return str(getattr(bad, "orig", None) or bad).splitlines()[0][:300]


class CondDbSpy:
    """Reads TAG, IOV and GLOBAL_TAG_MAP through SQLAlchemy Core.

    ``url`` is any SQLAlchemy URL (``oracle+oracledb://...`` in thin mode, ``postgresql+psycopg
    ://...``, or ``sqlite_readonly_url(path)``); ``schema`` is e.g. ``CMS_CONDITIONS``. An
    ``engine`` may be given instead (tests, shared pools); the spy then does not dispose it.
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
        self.queries = 0

    def _connect(self) -> Connection:
        if self._engine is None:
            assert self.url is not None
            self._engine = create_engine(self.url, connect_args=self._connect_args)
        if self._tables is None:
            self._tables = conddb_tables(self.schema)
        return self._engine.connect()

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
        try:
            with self._connect() as connection:
                if runs_by_tag:
                    self._read_iovs(connection, runs_by_tag, findings)
                if scope.prompt_global_tags:
                    self._read_global_tags(connection, scope.prompt_global_tags, findings)
        except SQLAlchemyError as bad:
            findings.error(f"conditions database unavailable: {_describe(bad)}", raw=str(bad))
        return findings

    def _tables_(self) -> CondDbTables:
        assert self._tables is not None
        return self._tables

    def _read_iovs(
        self, connection: Connection, runs_by_tag: dict[str, set[int]], findings: Findings
    ) -> None:
        tags = sorted(runs_by_tag)
        self.queries += -(-len(tags) // CHUNK)
        try:
            types = time_types(connection, self._tables_(), tags)
        except SQLAlchemyError as bad:
            connection.rollback()
            findings.error(f"cannot read TAG: {_describe(bad)}", raw=str(bad))
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
        self.queries += -(-len(runs) // 100)
        try:
            raw_rows = iov_candidates(connection, self._tables_(), tag, time_type, runs)
        except SQLAlchemyError as bad:
            connection.rollback()
            findings.error(f"cannot read IOVs of {tag}: {_describe(bad)}", raw=str(bad))
            return
        rows: list[IovRow] = []
        for raw in raw_rows:
            try:
                rows.append(to_iov_row(*raw))
            except SchemaViolation as bad:
                findings.error(f"tag {tag}: {bad.message}", raw=repr(raw), permanent=True)
        for run in runs:
            for row in covering(rows, run, time_type):
                fact = IovSeen(
                    run=run,
                    tag=tag,
                    time_type=time_type,
                    since=row.since,
                    insertion_time=row.insertion_time,
                    payload_hash=row.payload_hash,
                )
                evidence = compact(
                    {
                        "TAG_NAME": tag,
                        "SINCE": row.since,
                        "INSERTION_TIME": row.insertion_time.isoformat(),
                        "PAYLOAD_HASH": row.payload_hash,
                    }
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
            findings.error(f"cannot read GLOBAL_TAG_MAP: {_describe(bad)}", raw=str(bad))
            return
        for global_tag in sorted(maps):
            tags = tuple(sorted(set(maps[global_tag])))
            findings.observe(GlobalTagMap(global_tag, tags), raw=compact({global_tag: list(tags)}))
