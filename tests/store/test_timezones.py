"""Every point in time the store hands back is timezone-aware UTC, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select

from spyagency.domain.facts import RunInfo
from spyagency.domain.forecast import Forecast
from spyagency.domain.forecast_score import Horizon
from spyagency.domain.health import SourceHealth
from spyagency.domain.observation import Observation
from spyagency.domain.overrides import OverrideKind
from spyagency.domain.states import Source, Verdict, WorkflowState
from spyagency.store import Store
from spyagency.store.columns import UtcDateTime
from spyagency.store.schema import metadata

from .builders import assessment, at, override

EAST = timezone(timedelta(hours=9))


def fill_every_table(store: Store) -> None:
    now = at(0).astimezone(EAST)
    with store.transaction() as tx:
        tx.observations.add(Observation(Source.OMS, now, RunInfo(1, now, now), "", now))
        tx.states.save_run(assessment(1, Verdict.READY, w=WorkflowState.IN_DB), now)
        tx.health.record(SourceHealth(Source.OMS, now, now, "e", now, "raw", 1))
        added = tx.overrides.add(override(1, OverrideKind.HOLD))
        assert added.id is not None
        tx.overrides.revoke(added.id, "x", now)
        tx.audit.append(now, "a", "b", "c")
        tx.controls.set("signals_enabled", False, "expert", now, "maintenance")
        tx.tokens.add("t", "viewer", "0" * 64, now)
        tx.outbox.enqueue("webhook", "signal", 1, "k", {}, now)
        [message] = tx.outbox.claim("webhook", "w", now, timedelta(minutes=1))
        tx.outbox.mark_delivered(message.id, now)
        alert, _ = tx.alerts.open_or_touch("k", "stuck", "warning", 1, None, None, "m", now)
        tx.alerts.acknowledge(alert.id, "who", now)
        tx.alerts.resolve("k", now)
        tx.signals.record(1, Verdict.READY, "k", now, {})
        tx.leader.try_acquire("engine", "h", now, timedelta(seconds=5))
        tx.retention.add_to_summary(1, Source.OMS, 2, (now, now), now)
        kept = Forecast(1, now, median=now, low=now, high=now)
        tx.forecasts.save_latest(kept)
        tx.forecasts.keep(kept, Horizon.STOP)


def test_every_time_column_is_a_utc_column() -> None:
    for table in metadata.tables.values():
        for column in table.columns:
            if column.type.python_type is datetime:
                assert isinstance(column.type, UtcDateTime), f"{table.name}.{column.name}"


def test_every_stored_time_reads_back_aware_in_utc(store: Store) -> None:
    fill_every_table(store)
    seen = 0
    with store.read() as tx:
        for table in metadata.tables.values():
            time_columns = [c for c in table.columns if isinstance(c.type, UtcDateTime)]
            if not time_columns:
                continue
            rows = tx.connection.execute(select(*time_columns)).all()
            assert rows, f"{table.name} was not filled"
            for row in rows:
                for value in row:
                    if value is not None:
                        assert value.tzinfo is UTC, f"{table.name}: {value!r}"
                        seen += 1
    assert seen >= 25  # the filled columns, nulls aside


def test_time_fields_inside_json_keep_their_instant(store: Store) -> None:
    fill_every_table(store)
    with store.read() as tx:
        record = tx.states.get_run(1)
        [observed] = tx.observations.timeline(1)
    assert record is not None and record.assessment.stop == at(0)
    assert isinstance(observed.fact, RunInfo) and observed.fact.start == at(0)
