from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from spyagency.store import build_engine, current_revision, head_revision, upgrade
from spyagency.store.schema import metadata


def test_upgrade_creates_every_table_and_records_the_head(store_url: str) -> None:
    assert current_revision(store_url) is None
    upgrade(store_url)
    assert current_revision(store_url) == head_revision()
    engine = build_engine(store_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(metadata.tables) <= tables


def test_migrated_schema_equals_the_metadata(store_url: str) -> None:
    upgrade(store_url)
    engine = build_engine(store_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_upgrading_twice_changes_nothing(store_url: str) -> None:
    upgrade(store_url)
    upgrade(store_url)
    assert current_revision(store_url) == head_revision()


def test_upgrade_accepts_an_engine(store_url: str) -> None:
    engine = build_engine(store_url)
    try:
        upgrade(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_the_schema_comparison_does_see_a_difference(store_url: str) -> None:
    # Guards the test above against passing vacuously.
    from sqlalchemy import Column, Integer, MetaData, Table

    upgrade(store_url)
    changed = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(changed)
    Table("not_migrated", changed, Column("id", Integer, primary_key=True))
    engine = build_engine(store_url)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), changed)
    finally:
        engine.dispose()
    assert [entry[0] for entry in diff] == ["add_table"]
