"""Property-based tests of the whole API from its own OpenAPI document: whatever schemathesis
sends, valid or not, the agency never answers 5xx and every answer matches the documented schema."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from spyagency.web.app import create_app
from spyagency.web.authorization import Role
from tests.web.api_world import World, make_world

# Streams never end, and the login round trip needs a live issuer: both tested elsewhere.
EXAMPLES = 30
SKIPPED_PATHS = ["/api/v1/events/stream", "/auth/login", "/auth/callback"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    path: Path = tmp_path_factory.mktemp("schemathesis") / "agency.db"
    world = make_world(f"sqlite:///{path}")
    # An engine leads (readiness answers 200): a lease renewed "now" that never ages here.
    world.services.leader_timeout = timedelta(days=365)
    with world.store.transaction() as tx:
        tx.leader.try_acquire("engine", "host:1:lead", datetime.now(UTC), timedelta(days=1))
    yield world
    world.store.dispose()


@pytest.fixture(scope="module")
def api_schema(world: World) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(world.services))
    return schema.exclude(path=SKIPPED_PATHS)


def test_the_api_honours_its_schema(api_schema: schemathesis.BaseSchema, world: World) -> None:
    """Each operation in turn, with a few generated requests each (an expert's token, so the
    actions run too). Built inside the test: the app needs the fixture's database."""
    headers = world.auth(Role.EXPERT)
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    tried = []
    statuses: dict[int, int] = {}
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        tried.append(operation.label)
        strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
            GenerationMode.NEGATIVE
        )

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Case[Any]) -> None:
            answer = case.call_and_validate(headers=headers, checks=checks)
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

        exercise()
    assert "GET /api/v1/readiness" in tried and "POST /api/v1/overrides" in tried
    assert statuses.get(200, 0) > len(tried) and statuses.get(422, 0) > 0
