"""What only the engine process knows, for Prometheus: poll and evaluation durations, delivery
latency, leadership. On a registry of its own; the web's ``/metrics`` adds the store-derived
figures (runs per verdict, staleness, outbox depth).

The engine serves this registry on ``engine.metrics_port``; when engine and web share a process
(``spyagency serve``) the web's ``/metrics`` includes it as well.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from spyagency.domain.states import Source

# Polls take from milliseconds (files) to the HTTP timeout; deliveries wait for backoff.
POLL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
DELIVERY_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600)


class EngineMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.poll_seconds = Histogram(
            "spyagency_poll_seconds",
            "Wall time of one poll of a source.",
            ["source"],
            buckets=POLL_BUCKETS,
            registry=registry,
        )
        self.polls = Counter(
            "spyagency_polls",
            "Polls per source and outcome (ok, error).",
            ["source", "outcome"],
            registry=registry,
        )
        self.evaluation_seconds = Histogram(
            "spyagency_evaluation_seconds",
            "Wall time of one evaluator batch (ingest, tick, reevaluate).",
            ["kind"],
            buckets=POLL_BUCKETS,
            registry=registry,
        )
        self.delivery_latency = Histogram(
            "spyagency_delivery_latency_seconds",
            "From a message entering the outbox to its delivery (engine clock).",
            ["channel", "kind"],
            buckets=DELIVERY_BUCKETS,
            registry=registry,
        )
        self.deliveries = Counter(
            "spyagency_deliveries",
            "Delivery attempts per channel and outcome.",
            ["channel", "outcome"],
            registry=registry,
        )
        self.leader = Gauge(
            "spyagency_engine_leader", "1 while this engine leads, 0 on standby.", registry=registry
        )
        self.epoch = Gauge(
            "spyagency_engine_leader_epoch",
            "The fencing epoch this engine leads at (0 on standby).",
            registry=registry,
        )

    def observe_poll(self, source: Source, seconds: float, ok: bool) -> None:
        self.poll_seconds.labels(source.value).observe(seconds)
        self.polls.labels(source.value, "ok" if ok else "error").inc()

    def observe_evaluation(self, kind: str, seconds: float) -> None:
        self.evaluation_seconds.labels(kind).observe(seconds)

    def observe_delivery(self, channel: str, kind: str, outcome: str, latency: float) -> None:
        self.deliveries.labels(channel, outcome).inc()
        if outcome == "delivered":
            self.delivery_latency.labels(channel, kind).observe(max(0.0, latency))

    def observe_leadership(self, epoch: int | None) -> None:
        self.leader.set(1 if epoch is not None else 0)
        self.epoch.set(epoch or 0)
