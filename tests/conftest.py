"""Fixtures shared by every test package.

PostgreSQL tests need a server: set SPYAGENCY_TEST_POSTGRES_URL to a URL whose role may
CREATE DATABASE (``.ci/run`` starts a throwaway one). Without it they are skipped, except in
CI (``CI=true``), where a missing server fails the run instead of silently testing less.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

POSTGRES_URL_VARIABLE = "SPYAGENCY_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test server's URL (any database on it; tests get their own, see below)."""
    url = os.environ.get(POSTGRES_URL_VARIABLE, "").strip()
    if not url:
        message = (
            f"set {POSTGRES_URL_VARIABLE} to a PostgreSQL URL whose role may CREATE DATABASE; "
            ".ci/run starts one"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI=true: PostgreSQL tests must run, not be skipped)")
        pytest.skip(message)
    return url


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:
    """The URL of a fresh, empty database with a random name, dropped after the test."""
    name = f"spyagency_test_{secrets.token_hex(8)}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE: a test that failed may still hold connections.
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each backend: a SQLite file in ``tmp_path``, or a fresh
    PostgreSQL database. Tests using it run once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'spyagency.db'}"
    url: str = request.getfixturevalue("postgres_database")
    return url


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run the long soak and benchmark forms (marked slow)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: pass --run-slow (scripts/test.sh --run-slow)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
