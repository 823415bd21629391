from __future__ import annotations

from datetime import UTC

from spyagency.domain.overrides import OverrideKind
from spyagency.store import Store

from .builders import at, override


def test_an_override_gets_an_id_and_reads_back_equal(store: Store) -> None:
    given = override(1, OverrideKind.IGNORE_WORKFLOW, workflow="PromptCalibProdSiStrip")
    with store.transaction() as tx:
        stored = tx.overrides.add(given)
    assert stored.id is not None and stored == given.__class__(
        **{**given.__dict__, "id": stored.id}
    )
    with store.read() as tx:
        [record] = tx.overrides.for_run(1)
    assert record.override == stored and record.revoked_by is None
    assert record.override.created_at.tzinfo is UTC


def test_active_follows_creation_and_expiry(store: Store) -> None:
    with store.transaction() as tx:
        hold = tx.overrides.add(override(1, created=0, expires=60))
        later = tx.overrides.add(override(2, OverrideKind.FORCE_READY, created=30, expires=90))
    with store.read() as tx:
        assert tx.overrides.active(at(-1)) == []
        assert tx.overrides.active(at(0)) == [hold]
        assert tx.overrides.active(at(45)) == [hold, later]
        assert tx.overrides.active(at(60)) == [later]
        assert tx.overrides.active(at(90)) == []
        assert tx.overrides.all_in_force_or_expiring_after(at(-1)) == [hold, later]
        assert tx.overrides.all_in_force_or_expiring_after(at(60)) == [later]


def test_revoking_ends_an_override_and_records_who(store: Store) -> None:
    with store.transaction() as tx:
        hold = tx.overrides.add(override(1, created=0, expires=60))
        assert hold.id is not None
        assert tx.overrides.revoke(hold.id, "run coordinator", at(10))
        assert not tx.overrides.revoke(hold.id, "someone else", at(11))
        assert not tx.overrides.revoke(hold.id + 1000, "nobody", at(11))
    with store.read() as tx:
        assert tx.overrides.active(at(5)) == [tx.overrides.for_run(1)[0].override]
        assert tx.overrides.active(at(10)) == []
        assert tx.overrides.all_in_force_or_expiring_after(at(10)) == []
        record = tx.overrides.get(hold.id)
    assert record is not None and record.revoked_by == "run coordinator"
    assert record.override.revoked_at == at(10)
    assert not record.override.active(at(10))
