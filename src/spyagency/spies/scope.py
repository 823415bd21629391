"""What the engine asks a spy to look at in one poll cycle.

Only runs that are still open (not released, not missed) are in scope, so the work of a poll
grows with the number of open runs, not with the length of history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from spyagency.domain.iov import TimeType
from spyagency.domain.observation import Observation
from spyagency.domain.states import Source


@dataclass(frozen=True)
class WorkflowScope:
    name: str
    producer: str
    input_tags: tuple[str, ...]
    time_type: TimeType
    destination_tags: tuple[str, ...]
    dqm_folder: str | None
    streams: tuple[str, ...]
    # What the agency holds of the workflow's harvest (its harvested files, its streams'
    # harvest jobs and their states), empty before any: a harvest is what fills or changes a
    # DQM folder, so the DQM spy asks a folder again when this changes.
    harvest_mark: tuple[str, ...] = ()


@dataclass(frozen=True)
class FinishedHarvest:
    """An input tag whose producer's harvest task was reported finished without failure (at
    ``reported_at``) while no file of it is known: the harvest spy says, from a full listing
    made after that, whether the area holds none (``NoHarvestFile``)."""

    input_tag: str
    reported_at: datetime


@dataclass(frozen=True)
class UploadScope:
    """A harvested file whose upload outcome is still to be learnt from the upload logs."""

    input_tag: str
    uuid: str
    # The upload tarball's sha1 (``HarvestFile.upload_hash``): the key of the upload log.
    upload_hash: str
    # From the upload marker's metadata: lets a still-pending log (no itemStatus yet) be
    # reported per destination tag.
    destination_tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunScope:
    run: int
    stopped: bool
    streams: tuple[str, ...] = ()
    acq_era: str | None = None
    # (stream, proc_version) from the express configuration: the ALCAPROMPT dataset version.
    proc_versions: tuple[tuple[str, int], ...] = ()
    workflows: tuple[WorkflowScope, ...] = ()
    uploads: tuple[UploadScope, ...] = ()
    # Express streams already known to be done: the Tier-0 spy stops asking about them.
    done_streams: tuple[str, ...] = ()
    # The harvest files the run's harvest jobs name (WMStats jobdetail), as sorted unique
    # "<year>/<file name>": the harvest spy looks for these by name between full listings.
    harvest_outputs: tuple[str, ...] = ()
    # The run's items still recorded as unreadable, as (source, item): a spy that reads one
    # of them fine again says so (``Findings.item_ok``), which closes the problem.
    open_problems: tuple[tuple[str, str], ...] = ()
    # Input tags whose harvest is over with no file known and no absence checked since.
    finished_harvests: tuple[FinishedHarvest, ...] = ()
    # Input tags whose producer's harvest task counts a succeeded job (WMStats) and no file
    # of which is known yet: a file of theirs comes from a harvest job, as one
    # ``harvest_outputs`` names, and the harvest spy lists its folders until it finds it.
    harvested_tags: tuple[str, ...] = ()
    # The year the run started: its harvest files go to that year's folder (the Tier-0 takes
    # the year when it configures the run), so only that folder's listing can show none.
    start_year: int | None = None


@dataclass(frozen=True)
class PollScope:
    now: datetime
    runs: tuple[RunScope, ...] = ()
    # Highest run number the agency knows: discovery asks only for runs from here on.
    highest_known_run: int | None = None
    prompt_global_tags: tuple[str, ...] = ()

    @property
    def open_runs(self) -> list[int]:
        return [r.run for r in self.runs]


@dataclass(frozen=True)
class SourceError:
    source: Source
    at: datetime
    message: str
    raw: str = ""
    url: str | None = None
    permanent: bool = False
    # The run an item error concerns: the item is evidence on that run (an ItemProblem
    # observation goes with it), and the source as a whole is not failing.
    run: int | None = None


@dataclass
class SpyReport:
    """The outcome of one poll: what was seen, what went wrong, how many requests it took."""

    source: Source
    started_at: datetime
    finished_at: datetime | None = None
    observations: list[Observation] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    requests: int = 0

    @property
    def ok(self) -> bool:
        """The source itself could be read: errors about single items do not count."""
        return not self.source_errors

    @property
    def source_errors(self) -> list[SourceError]:
        return [e for e in self.errors if e.run is None]
