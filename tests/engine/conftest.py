"""Engine tests run on a real store (both backends) and talk to real local receivers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from spyagency.domain.catalogue import load_catalogue
from spyagency.domain.clock import ManualClock
from spyagency.domain.policy import Policy
from spyagency.domain.states import Source
from spyagency.engine.alerts import AlertKeeper
from spyagency.engine.evaluator import Evaluator
from spyagency.engine.signals import SignalDesk
from spyagency.store.database import build_engine
from spyagency.store.migrations import upgrade
from spyagency.store.uow import Store
from tests.domain.world import T0

# The real SMTP server and HTTP receiver of the signaler tests serve these tests too.
from tests.signalers.conftest import (  # noqa: F401
    _receiver_server,
    receiver,
    smtp_server,
)

SIGNAL_CHANNEL = "tier0_webhook"
ALERT_CHANNELS = ("alertmanager", "email")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    upgrade(store_url)
    built = Store(build_engine(store_url))
    yield built
    built.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0 + timedelta(hours=5))


def make_evaluator(
    store: Store, clock: ManualClock, alert_channels: tuple[str, ...] = ALERT_CHANNELS
) -> Evaluator:
    """An evaluator on ``store`` with the default policy and the full catalogue."""
    policy = Policy()
    desk = SignalDesk([SIGNAL_CHANNEL], public_url="http://agency")
    keeper = AlertKeeper(policy, alert_channels, list(Source), "http://agency")
    return Evaluator(store, load_catalogue(), policy, clock, desk, keeper)


@pytest.fixture
def evaluator(store: Store, clock: ManualClock) -> Evaluator:
    return make_evaluator(store, clock)
