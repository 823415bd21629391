"""What each spy reads of its poll scope: equal keys, equal questions.

A spy's questions depend on only part of the scope (the harvest spy on the harvested outputs
and the year, the CondDB spy on the destination tags, ...). Read from the spies' code, this
says which part, so a caller can tell whether a change of scope can change what a spy asks:

- the engine wakes a spy whose part changed after a batch (a harvest WMStats just reported is
  looked for at once, not at the harvest spy's next poll);
- a replay skips polls whose part did not change and whose upstream did not move.

A source not listed counts as reading all of the scope. The replay-equivalence test checks
the whole against polling every source at every step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable
from datetime import UTC, datetime

from spyagency.domain.states import Source
from spyagency.spies.scope import PollScope

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _full_scope(scope: PollScope) -> Hashable:
    # Everything a spy is asked, without the instant; the year is kept because the harvest
    # spy looks into the folders of the current year (and the ones before).
    return dataclasses.replace(scope, now=EPOCH), scope.now.year


SCOPE_READS: dict[Source, Callable[[PollScope], Hashable]] = {
    Source.OMS: lambda scope: (tuple(scope.open_runs), scope.highest_known_run),
    Source.HARVEST: lambda scope: (
        tuple(
            (r.run, r.harvest_outputs, r.finished_harvests, r.harvested_tags, r.start_year)
            for r in scope.runs
        ),
        scope.highest_known_run,
        scope.now.year,
    ),
    Source.CONDDB: lambda scope: (
        tuple((r.run, tuple(w.destination_tags for w in r.workflows)) for r in scope.runs),
        scope.prompt_global_tags,
    ),
    Source.UPLOAD_LOG: lambda scope: tuple((r.run, r.uploads) for r in scope.runs),
    Source.WMSTATS: lambda scope: tuple((r.run, r.streams) for r in scope.runs if r.stopped),
    Source.DQM: lambda scope: tuple(
        (
            r.run,
            r.stopped,
            r.acq_era,
            r.streams,
            tuple(
                (w.name, w.producer, w.dqm_folder, w.harvest_mark, w.streams) for w in r.workflows
            ),
        )
        for r in scope.runs
    ),
    Source.TIER0: lambda scope: (
        tuple((r.run, r.stopped, r.acq_era, r.streams, r.done_streams) for r in scope.runs),
        scope.highest_known_run,
    ),
}


def scope_key(source: Source, scope: PollScope) -> Hashable:
    """The part of ``scope`` that ``source``'s spy reads: equal keys, equal questions."""
    reads = SCOPE_READS.get(source, _full_scope)
    return reads(scope)
