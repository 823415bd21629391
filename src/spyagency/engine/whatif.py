"""What if another policy had been in force? Re-judge stored observations under two policies.

``compare_policies`` walks the stored observations in time order:

1. it folds them one by one, exactly as the engine did (ADR 3), and after each observation
   about a run it judges that run under both policies at the observation's time;
2. it records each policy's verdict timeline per run (only the changes);
3. it reports per run the first moment each policy said ``ready`` and the final verdicts, so a
   reader sees what would have differed.

Source health is not part of the stored history, so every source counts as fresh here: the
comparison is about the rules, not about outages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from spyagency.domain.catalogue import Catalogue
from spyagency.domain.health import SourceHealth
from spyagency.domain.knowledge import Knowledge, RunChanged, SystemChanged
from spyagency.domain.observation import Observation
from spyagency.domain.overrides import Override
from spyagency.domain.policy import Policy
from spyagency.domain.states import Source, Verdict
from spyagency.domain.verdict import Context, judge_run

Timeline = list[tuple[datetime, Verdict]]


@dataclass
class RunComparison:
    run: int
    baseline: Timeline = field(default_factory=list)
    alternative: Timeline = field(default_factory=list)

    @staticmethod
    def _first_ready(timeline: Timeline) -> datetime | None:
        return next((t for t, v in timeline if v is Verdict.READY), None)

    @property
    def ready_at(self) -> tuple[datetime | None, datetime | None]:
        return self._first_ready(self.baseline), self._first_ready(self.alternative)

    @property
    def final(self) -> tuple[Verdict | None, Verdict | None]:
        def last(timeline: Timeline) -> Verdict | None:
            return timeline[-1][1] if timeline else None

        return last(self.baseline), last(self.alternative)

    @property
    def differs(self) -> bool:
        first, second = self.ready_at
        return first != second or self.final[0] != self.final[1]


def _fresh(now: datetime) -> dict[Source, SourceHealth]:
    return {source: SourceHealth(source, last_success=now) for source in Source}


def compare_policies(
    observations: Iterable[Observation],
    catalogue: Catalogue,
    baseline: Policy,
    alternative: Policy,
    overrides: Iterable[Override] = (),
    progress: Callable[[int], None] | None = None,
) -> dict[int, RunComparison]:
    knowledge = Knowledge()
    kept_overrides = list(overrides)
    results: dict[int, RunComparison] = {}
    ordered = sorted(observations, key=Observation.order_key)
    for index, observation in enumerate(ordered):
        now = observation.observed_at
        match knowledge.add(observation):
            case SystemChanged():
                runs = list(knowledge.runs)
            case RunChanged(run=changed):
                runs = [changed]
            case None:
                runs = []
        for run in runs:
            comparison = results.setdefault(run, RunComparison(run))
            for policy, timeline in (
                (baseline, comparison.baseline),
                (alternative, comparison.alternative),
            ):
                context = Context(
                    catalogue, policy, now, _fresh(now), knowledge.system, kept_overrides
                )
                verdict = judge_run(knowledge.run(run), context).verdict
                if not timeline or timeline[-1][1] is not verdict:
                    timeline.append((now, verdict))
        if progress is not None:
            progress(index + 1)
    return results
