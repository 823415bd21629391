"""``/metrics`` for Prometheus: a collector that reads the engine's state from the store at
scrape time, on a registry of its own (never the process-global one, so several apps and the
tests never share series)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Depends, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from spyagency.web.authorization import Action
from spyagency.web.security import require
from spyagency.web.services import WebServices

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class AgencyCollector(Collector):
    """Runs per verdict, open workflows per state, source staleness, outbox depth.

    >>> registry = CollectorRegistry()  # doctest: +SKIP
    >>> registry.register(AgencyCollector(services))  # doctest: +SKIP
    """

    def __init__(self, services: WebServices) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        services = self.services
        now = services.clock.now()
        with services.store.read() as tx:
            verdicts = tx.states.counts_by_verdict()
            states = tx.states.counts_by_workflow_state(open_only=True)
            health = tx.health.all()
            pending = tx.outbox.pending_count()
        runs = GaugeMetricFamily("spyagency_runs", "Runs by current verdict.", labels=["verdict"])
        for verdict, count in sorted(verdicts.items()):
            runs.add_metric([verdict.value], count)
        yield runs
        workflows = GaugeMetricFamily(
            "spyagency_open_workflows",
            "Open runs by workflow and state.",
            labels=["workflow", "state"],
        )
        for (workflow, state), count in sorted(states.items()):
            workflows.add_metric([workflow, state.value], count)
        yield workflows
        age = GaugeMetricFamily(
            "spyagency_source_seconds_since_success",
            "Seconds since the last successful poll of each source (-1: never).",
            labels=["source"],
        )
        failures = GaugeMetricFamily(
            "spyagency_source_consecutive_failures",
            "Failed polls in a row per source.",
            labels=["source"],
        )
        for source, record in sorted(health.items()):
            seconds = (now - record.last_success).total_seconds() if record.last_success else -1
            age.add_metric([source.value], seconds)
            failures.add_metric([source.value], record.consecutive_failures)
        yield age
        yield failures
        yield GaugeMetricFamily(
            "spyagency_outbox_pending", "Messages waiting for delivery.", value=pending
        )


def router(services: WebServices) -> APIRouter:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgencyCollector(services))
    if services.engine_metrics is not None:
        registry.register(services.engine_metrics)
    routes = APIRouter()

    # Readable as the pages are: by anyone with open reading, else with a token (Prometheus
    # sends one as a bearer) or a session.
    @routes.get("/metrics", include_in_schema=False, dependencies=[Depends(require(Action.READ))])
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE)

    return routes
