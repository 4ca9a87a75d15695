"""Prometheus metrics. Under gunicorn they are aggregated across processes (multiprocess mode)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

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
UNAUTHENTICATED_REJECTIONS = Counter(
    "gateway_unauthenticated_rejections_total",
    "Rejections whose signature did not verify as the claimed sender, by door (the peer address is in the store)",
    ["door"],
)
HANDLED = Counter("gateway_handled_messages_total", "Messages taken by workers", ["route", "outcome"])
RELAYED = Counter("gateway_relayed_messages_total", "Messages published by the outbox relay")
FORWARDED = Counter(
    "gateway_forwarded_messages_total",
    "Accepted messages the intake processes published themselves (queued), or left to the outbox relay",
    ["outcome"],
)
PUSHED = Counter("gateway_pushes_total", "Push attempts of outbound messages by outcome (delivered, retried, parked)", ["outcome"])


def observe_intake(door: str, outcome: str, seconds: float) -> None:
    INTAKE.labels(door, outcome).inc()
    INTAKE_SECONDS.labels(door).observe(seconds)


def exposition(earliest_expiry: Mapping[str, dt.datetime] | None = None) -> tuple[bytes, str]:
    """The metrics page: aggregated over every process when PROMETHEUS_MULTIPROC_DIR is set.

    `earliest_expiry` (party -> the soonest notAfter of its certificates) is read from the
    store when the page is asked for, so it is the same in every process and needs no timer.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        page = generate_latest(registry)
    else:
        from prometheus_client import REGISTRY

        page = generate_latest(REGISTRY)
    if earliest_expiry is not None:
        page += generate_latest(_ExpiryCollector(earliest_expiry))
    return page, CONTENT_TYPE_LATEST


class _ExpiryCollector(Collector):
    def __init__(self, earliest: Mapping[str, dt.datetime]) -> None:
        self.earliest = earliest

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "gateway_certificate_expiry_timestamp_seconds",
            "The earliest notAfter (Unix time) of each party's certificates and CAs, the gateway's own included",
            labels=["party"],
        )
        for party, not_after in sorted(self.earliest.items()):
            gauge.add_metric([party], not_after.timestamp())
        yield gauge
