"""Unauthenticated rejections: recorded with their door and peer, counted apart per door and peer, and an
UNAUTHENTICATED_REJECTIONS alert to the operators once per door, peer and window above the threshold."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path

import pytest
from lxml import etree
from prometheus_client import REGISTRY
from rows import in_context
from sqlalchemy import select
from support import REPO, MessageFactory, config_with_rules

from customs.intake_alerts import check_unauthenticated
from customs.rules import parse_business
from customs.state import alerts
from gateway import xmlsafe
from gateway.envelope import content_element
from gateway.pipeline import Pipeline, Transport
from gateway.services import Services
from gateway.store.tables import outbox, rejections
from routing.table import RoutingTable, load_handler

pytestmark = pytest.mark.stores("sqlite")  # business: SQLite; the raised-once race is cross-checked on PostgreSQL

MARKETPLACE = "0101234567"
ATTACKER = "203.0.113.7"
NEIGHBOUR = "203.0.113.8"
RA = "{urn:customs.gov.vn:ecom:risk-alert:1}"


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str) -> Path:
    """The repository's rules with an alert above 3 unauthenticated rejections."""
    return config_with_rules(tmp_path, pki_dir, namespace, business=_three)


def _three(rules: str) -> str:
    edited = re.sub(r"(?m)^unauthenticated_rejections_threshold = \d+", "unauthenticated_rejections_threshold = 3", rules)
    assert edited != rules
    return edited


def impersonate(pipeline: Pipeline, messages: MessageFactory, transport: Transport) -> None:
    """An envelope that claims to come from MARKETPLACE, unsigned: rejected without authenticating anyone."""
    outcome = pipeline.submit(etree.tostring(messages.envelope("ECOM_ORDER", MARKETPLACE)), transport)
    assert not outcome.accepted


def reject_signed(pipeline: Pipeline, messages: MessageFactory, transport: Transport) -> None:
    """MARKETPLACE's own signed message with an invalid payload: an authenticated rejection."""

    def invalid(root: etree._Element) -> None:
        content_element(root).find("{*}direction").text = "SIDEWAYS"

    outcome = pipeline.submit(messages.signed("ECOM_ORDER", MARKETPLACE, invalid), transport)
    assert "PAYLOAD_SCHEMA_INVALID" in outcome.codes, outcome.codes


def alert_rows(services: Services) -> list[dict]:
    with services.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(select(alerts).order_by(alerts.c.id))]


def counted(door: str) -> float:
    return REGISTRY.get_sample_value("gateway_unauthenticated_rejections_total", {"door": door}) or 0.0


@pytest.mark.stores("sqlite", "postgresql")  # raised once: ON CONFLICT, per dialect
def test_a_door_and_peer_above_the_threshold_raises_one_alert_per_window(
    pipeline: Pipeline, messages: MessageFactory, services: Services
) -> None:
    before = counted("http"), counted("amqp")
    for _ in range(4):
        impersonate(pipeline, messages, Transport("http", None, ATTACKER))
    for _ in range(3):  # the threshold itself: not above it
        impersonate(pipeline, messages, Transport("http", None, NEIGHBOUR))
        impersonate(pipeline, messages, Transport("amqp", None, ATTACKER))  # another door: counted apart
    for _ in range(4):  # its signature verified: the party's rate counts it, not this
        reject_signed(pipeline, messages, Transport("http", None, NEIGHBOUR))

    assert (counted("http") - before[0], counted("amqp") - before[1]) == (7, 3)  # by door only
    with services.engine.connect() as connection:
        kept = connection.execute(select(rejections.c.door, rejections.c.peer, rejections.c.authenticated)).all()
    assert sorted(set(kept)) == [
        ("amqp", ATTACKER, False),
        ("http", ATTACKER, False),
        ("http", NEIGHBOUR, False),
        ("http", NEIGHBOUR, True),
    ]

    assert in_context(services, check_unauthenticated) == 1
    assert in_context(services, check_unauthenticated) == 0  # the same window: already raised
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert in_context(services, check_unauthenticated, now=tomorrow) == 0  # yesterday's was raised; today has none

    (row,) = alert_rows(services)
    assert (row["kind"], row["party"], row["declaration"], row["recipients"]) == (
        "UNAUTHENTICATED_REJECTIONS",
        services.settings.gateway.identity,  # about the gateway's intake: the peer is no party
        None,
        "OPS",
    )
    assert row["metrics"] == {"HITS": 4, "THRESHOLD": 3, "WINDOW_HOURS": 24}
    text = row["reasons"][0]["text"]
    assert "http" in text and ATTACKER in text and "SIGNATURE_MISSING (4)" in text, text

    with services.engine.connect() as connection:
        ((recipient, body),) = connection.execute(
            select(outbox.c.recipient, outbox.c.body).where(outbox.c.document_type == "RISK_ALERT")
        ).all()
    root = xmlsafe.parse(body)
    document = services.schemas.get("RISK_ALERT")
    assert document is not None and services.schemas.validate_payload(document, content_element(root)) == []
    assert recipient == "OPS" and content_element(root).findtext(f"{RA}kind") == "UNAUTHENTICATED_REJECTIONS"


def test_the_timer_raises_it_again_in_another_window_and_a_peerless_door_counts_as_unknown(
    pipeline: Pipeline, messages: MessageFactory, services: Services, assembly
) -> None:
    (timer,) = [
        t
        for t in RoutingTable.load(REPO / "config" / "routes.toml").timers
        if t.task == "customs.intake_alerts:check_unauthenticated"
    ]
    task = load_handler(timer.task)
    for _ in range(4):
        impersonate(pipeline, messages, Transport("amqp"))  # no user_id nor app_id: the peer is not known

    assert assembly.timers().run_once(timer, task) == 1  # type: ignore[arg-type]
    assert assembly.timers().run_once(timer, task) == 0  # type: ignore[arg-type]
    with services.engine.begin() as connection:  # the same rejections, two days later: another window
        for pk, at in connection.execute(select(rejections.c.id, rejections.c.received_at)).all():
            connection.execute(rejections.update().where(rejections.c.id == pk).values(received_at=at + dt.timedelta(days=2)))
    assert in_context(services, check_unauthenticated, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=2)) == 1

    texts = [row["reasons"][0]["text"] for row in alert_rows(services)]
    assert len(texts) == 2 and all("amqp" in text and "unknown" in text for text in texts), texts


def test_below_or_at_the_threshold_nothing_is_raised(
    pipeline: Pipeline, messages: MessageFactory, services: Services
) -> None:
    for _ in range(3):
        impersonate(pipeline, messages, Transport("soap", None, ATTACKER))
    assert in_context(services, check_unauthenticated) == 0
    assert alert_rows(services) == []



def test_the_threshold_is_read_from_business_toml_and_absent_means_never() -> None:
    text = (REPO / "config" / "business.toml").read_text(encoding="utf-8")
    assert parse_business(tomllib.loads(text)).alerts.unauthenticated_rejections_threshold == 100
    unset = re.sub(r"(?m)^unauthenticated_rejections_threshold = .*$", "", text)
    assert parse_business(tomllib.loads(unset)).alerts.unauthenticated_rejections_threshold is None
