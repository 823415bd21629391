from __future__ import annotations

from datetime import UTC

from spyagency.domain.health import SourceHealth
from spyagency.domain.states import Source
from spyagency.store import Store

from .builders import at


def test_health_is_replaced_per_source(store: Store) -> None:
    failing = SourceHealth(
        Source.CONDDB,
        last_success=at(0),
        last_attempt=at(5),
        last_error="HTTP 502",
        last_error_at=at(5),
        last_error_raw="<html>Bad gateway\x00</html>",
        consecutive_failures=3,
    )
    with store.transaction() as tx:
        tx.health.record(SourceHealth(Source.CONDDB, last_success=at(0), last_attempt=at(0)))
        tx.health.record(failing)
        tx.health.record(SourceHealth(Source.OMS, last_attempt=at(1)))
    with store.read() as tx:
        health = tx.health.all()
        assert tx.health.get(Source.DQM) is None
    assert set(health) == {Source.CONDDB, Source.OMS}
    assert health[Source.CONDDB] == SourceHealth(
        **{**failing.__dict__, "last_error_raw": "<html>Bad gateway\ufffd</html>"}
    )
    assert health[Source.OMS].last_success is None
    last_attempt = health[Source.CONDDB].last_attempt
    assert last_attempt is not None and last_attempt.tzinfo is UTC
