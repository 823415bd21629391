from datetime import UTC, datetime, timedelta

from spyagency.store.controls import SIGNALS_ENABLED
from spyagency.store.uow import Store


def test_a_switch_keeps_its_latest_value_with_who_when_and_why(store: Store) -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    with store.transaction() as tx:
        assert tx.controls.get(SIGNALS_ENABLED) is None
        tx.controls.set(SIGNALS_ENABLED, False, "alice", now, "Tier-0 maintenance")
        tx.controls.set(SIGNALS_ENABLED, True, "bob", now + timedelta(hours=1), "done")
    with store.read() as tx:
        setting = tx.controls.get(SIGNALS_ENABLED)
    assert setting is not None
    assert (setting.value, setting.changed_by, setting.reason) == (True, "bob", "done")
    assert setting.changed_at == now + timedelta(hours=1)
