"""The same CondDB queries on PostgreSQL (quoted uppercase tables in a schema, as on Oracle).

Needs the test server of tests/conftest.py's ``postgres_url``: skipped without one, except
under ``CI=true``, where a missing server fails the run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import create_engine, text

from spyagency.domain.facts import GlobalTagMap, IovSeen
from spyagency.domain.iov import TimeType, lumi_since
from spyagency.spies.conddb import CondDbSpy
from spyagency.spies.conddb_schema import conddb_tables
from spyagency.spies.scope import PollScope, RunScope, WorkflowScope
from tests.spies.fakes import NOW, facts_of, fixed_clock
from tests.spies.iov_candidates_check import IovCase, check_case, iov_cases

pytestmark = pytest.mark.postgres
T1 = datetime(2026, 5, 30, 10, 0, tzinfo=UTC)
T2 = T1 + timedelta(hours=5)


@pytest.fixture
def schema(postgres_url: str) -> Iterator[str]:
    name = f"CMS_CONDITIONS_{uuid.uuid4().hex[:8].upper()}"
    engine = create_engine(postgres_url)
    statements = [
        f'CREATE SCHEMA "{name}"',
        f'CREATE TABLE "{name}"."TAG" ("NAME" VARCHAR(4000) PRIMARY KEY, '
        f'"TIME_TYPE" VARCHAR(4000))',
        f'CREATE TABLE "{name}"."IOV" ("TAG_NAME" VARCHAR(4000), "SINCE" BIGINT, '
        f'"INSERTION_TIME" TIMESTAMP, "PAYLOAD_HASH" VARCHAR(40), '
        f'PRIMARY KEY ("TAG_NAME", "SINCE", "INSERTION_TIME"))',
        f'CREATE TABLE "{name}"."GLOBAL_TAG_MAP" ("GLOBAL_TAG_NAME" VARCHAR(4000), '
        f'"RECORD" VARCHAR(4000), "LABEL" VARCHAR(4000), "TAG_NAME" VARCHAR(4000))',
        f"""INSERT INTO "{name}"."TAG" VALUES ('RunTag', 'Run'), ('LumiTag', 'Lumi')""",
        f"""INSERT INTO "{name}"."IOV" VALUES
            ('RunTag', 380000, '2026-05-30 10:00:00', '{"a" * 40}'),
            ('RunTag', 380000, '2026-05-30 15:00:00', '{"b" * 40}'),
            ('LumiTag', {lumi_since(380000, 1)}, '2026-05-30 10:00:00', '{"c" * 40}'),
            ('LumiTag', {lumi_since(380000, 9)}, '2026-05-30 15:00:00', '{"d" * 40}')""",
        f"""INSERT INTO "{name}"."GLOBAL_TAG_MAP" VALUES ('PromptGT', 'R', '', 'RunTag')""",
    ]
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    try:
        yield name
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        engine.dispose()


async def test_covering_iovs_on_postgresql(postgres_url: str, schema: str) -> None:

    def workflow(tag: str, time_type: TimeType) -> WorkflowScope:
        return WorkflowScope(tag, "P", ("x",), time_type, (tag,), None, ("Express",))

    run = RunScope(
        380000,
        True,
        workflows=(workflow("RunTag", TimeType.RUN), workflow("LumiTag", TimeType.LUMI)),
    )
    spy = CondDbSpy(postgres_url, schema=schema, clock=fixed_clock)
    report = await spy.poll(PollScope(now=NOW, runs=(run,), prompt_global_tags=("PromptGT",)))
    await spy.aclose()
    assert report.errors == []
    seen = sorted((f.tag, f.since, f.insertion_time) for f in facts_of(report, IovSeen))
    assert seen == [
        ("LumiTag", lumi_since(380000, 1), T1),
        ("LumiTag", lumi_since(380000, 9), T2),
        ("RunTag", 380000, T1),
        ("RunTag", 380000, T2),
    ]
    assert facts_of(report, GlobalTagMap) == [GlobalTagMap("PromptGT", ("RunTag",))]


def _pg_stamp(insertion: int) -> datetime:
    return T1 + timedelta(seconds=insertion)


@pytest.mark.parametrize("time_type", [TimeType.RUN, TimeType.LUMI])
def test_candidates_match_the_per_run_definition_on_postgresql(
    postgres_url: str, schema: str, time_type: TimeType
) -> None:
    """The fixed-shape candidate statement against the per-run definition, on random IOV
    sets, with PostgreSQL's types and bind parameters (Oracle's quoting and schema)."""
    engine = create_engine(postgres_url)
    tables = conddb_tables(schema)
    tag = f"Random{time_type.value}Tag"

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(iov_cases(time_type))
    def agrees(case: IovCase) -> None:
        with engine.begin() as connection:
            check_case(connection, tables, tag, case, _pg_stamp)

    try:
        agrees()
    finally:
        engine.dispose()
