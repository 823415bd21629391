"""The old home of ``SavedRun``, kept only while ``engine/evaluator.py`` still imports it from
here: ``SavedRun`` lives in ``store.run_records`` and the repository in ``store.run_states``.
Delete this module once that import points to ``store.run_records``."""

from __future__ import annotations

from spyagency.store.run_records import SavedRun

__all__ = ["SavedRun"]
