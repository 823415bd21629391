"""The unit of work: every repository of one transaction shares one connection, so a state
change, its events and the outbox messages it causes commit together or not at all.

>>> store = Store(build_engine("sqlite:////tmp/spyagency-doc.db"))  # doctest: +SKIP
>>> with store.transaction() as tx:  # doctest: +SKIP
...     change = tx.states.save_run(assessment, now)
...     if change.verdict_changed:
...         tx.outbox.enqueue("tier0_webhook", "signal", assessment.run, key, payload, now)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine

from spyagency.store.alerts import AlertRepository
from spyagency.store.audit import AuditRepository
from spyagency.store.controls import ControlRepository
from spyagency.store.database import SQLITE_BEGIN_OPTION, write_refusal
from spyagency.store.events import EventRepository
from spyagency.store.forecasts import ForecastRepository
from spyagency.store.leader import LeaderRepository
from spyagency.store.notifications import notify_events_written
from spyagency.store.observations import ObservationRepository
from spyagency.store.outbox import OutboxRepository
from spyagency.store.overrides import OverrideRepository
from spyagency.store.poll_history import PollHistoryRepository
from spyagency.store.retention import RetentionRepository
from spyagency.store.run_labels import RunLabelRepository
from spyagency.store.run_lists import RunListRepository
from spyagency.store.run_states import RunStateRepository
from spyagency.store.run_timing import RunTimingQueries
from spyagency.store.signals import SignalRepository
from spyagency.store.source_health import SourceHealthRepository
from spyagency.store.step_history import StepHistoryRepository
from spyagency.store.tokens import ApiTokenRepository
from spyagency.store.workflow_figures import WorkflowFigureRepository


@dataclass
class Transaction:
    """The repositories, bound to one connection inside one transaction."""

    connection: Connection
    observations: ObservationRepository = field(init=False)
    events: EventRepository = field(init=False)
    states: RunStateRepository = field(init=False)
    health: SourceHealthRepository = field(init=False)
    overrides: OverrideRepository = field(init=False)
    audit: AuditRepository = field(init=False)
    outbox: OutboxRepository = field(init=False)
    alerts: AlertRepository = field(init=False)
    signals: SignalRepository = field(init=False)
    leader: LeaderRepository = field(init=False)
    tokens: ApiTokenRepository = field(init=False)
    retention: RetentionRepository = field(init=False)
    forecasts: ForecastRepository = field(init=False)
    step_history: StepHistoryRepository = field(init=False)
    labels: RunLabelRepository = field(init=False)
    run_lists: RunListRepository = field(init=False)
    workflow_figures: WorkflowFigureRepository = field(init=False)
    run_timing: RunTimingQueries = field(init=False)
    poll_history: PollHistoryRepository = field(init=False)

    def __post_init__(self) -> None:
        connection = self.connection
        self.observations = ObservationRepository(connection)
        self.events = EventRepository(connection)
        self.states = RunStateRepository(connection, self.events)
        self.health = SourceHealthRepository(connection)
        self.overrides = OverrideRepository(connection)
        self.audit = AuditRepository(connection)
        self.outbox = OutboxRepository(connection)
        self.alerts = AlertRepository(connection)
        self.signals = SignalRepository(connection)
        self.leader = LeaderRepository(connection)
        self.controls = ControlRepository(connection)
        self.tokens = ApiTokenRepository(connection)
        self.retention = RetentionRepository(connection)
        self.forecasts = ForecastRepository(connection)
        self.step_history = StepHistoryRepository(connection)
        self.labels = RunLabelRepository(connection)
        self.run_lists = RunListRepository(connection, self.events)
        self.workflow_figures = WorkflowFigureRepository(connection)
        self.run_timing = RunTimingQueries(connection)
        self.poll_history = PollHistoryRepository(connection)

    def write_refusal(self) -> str | None:
        """Why the database would refuse a write (asked without writing), or None."""
        return write_refusal(self.connection)


Fence = Callable[[Transaction], None]


class Store:
    """Hands out transactions on ``engine``; builds nothing until asked.

    ``fence`` runs first in every read-write transaction and raises to refuse it: the engine's
    store is fenced by its leadership (``engine/leadership.py``), so a deposed leader cannot
    write. Views on the same engine (``with_fence``) share its connection pool.
    """

    def __init__(self, engine: Engine, fence: Fence | None = None) -> None:
        self.engine = engine
        self.fence = fence
        self._notify = engine.dialect.name == "postgresql"

    def with_fence(self, fence: Fence) -> Store:
        return Store(self.engine, fence)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A read-write transaction: committed when the block ends, rolled back on an error.

        On SQLite it takes the write lock at once (``BEGIN IMMEDIATE``), so concurrent writers
        queue for up to the busy timeout instead of failing halfway.
        """
        with self.engine.begin() as connection:
            tx = Transaction(connection)
            if self.fence is not None:
                self.fence(tx)
            yield tx
            if self._notify and tx.events.written:
                notify_events_written(connection)

    @contextmanager
    def read(self) -> Iterator[Transaction]:
        """A read-only snapshot that never blocks writers (on SQLite a deferred transaction
        in WAL mode). Anything written here is rolled back."""
        with self.engine.connect() as connection:
            connection.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
            # The connection begins on first use and rolls back when it closes.
            yield Transaction(connection)

    def dispose(self) -> None:
        """Close pooled connections (at shutdown, and in tests before dropping a database)."""
        self.engine.dispose()
