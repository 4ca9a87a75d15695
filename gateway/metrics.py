"""Prometheus metrics. Under gunicorn they are aggregated across processes (multiprocess mode)."""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

INTAKE = Counter(
    "gateway_intake_messages_total",
    "Inbound messages by door and outcome (accepted, duplicate, or the first rejection code)",
    ["door", "outcome"],
)
INTAKE_SECONDS = Histogram(
    "gateway_intake_seconds",
    "Time from a body being read to its receipt being ready",
    ["door"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
HANDLED = Counter("gateway_handled_messages_total", "Messages taken by workers", ["route", "outcome"])
RELAYED = Counter("gateway_relayed_messages_total", "Messages published by the outbox relay")
PUSHED = Counter("gateway_pushes_total", "Push attempts of outbound messages by outcome (delivered, retried, parked)", ["outcome"])


def observe_intake(door: str, outcome: str, seconds: float) -> None:
    INTAKE.labels(door, outcome).inc()
    INTAKE_SECONDS.labels(door).observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The metrics page: aggregated over every process when PROMETHEUS_MULTIPROC_DIR is set."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
