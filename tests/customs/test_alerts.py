"""Risk alerts on both stores: recording, signed RISK_ALERTs to the subscribers, raised once, and the
rejection and mismatch rates measured by the timer task."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from lxml import etree
from rows import accept, decided, decision, declaration, in_context, item
from sqlalchemy import func, select
from support import REPO, MessageFactory, config_with_rules

from customs.alerts import alert_id_for, check_rates, raise_alert, windows
from customs.state import alerts
from gateway import xmlsafe
from gateway.envelope import content_element, read_header
from gateway.exceptions import InvalidOutboundMessage
from gateway.pipeline import Pipeline, Transport
from gateway.services import Services
from gateway.signing.keys import fingerprint
from gateway.signing.verify import verify_envelope
from gateway.store.tables import outbox, rejections
from routing.table import RoutingTable, load_handler

pytestmark = pytest.mark.stores("sqlite")  # business: SQLite; the PostgreSQL cross-checks are marked (tests/conftest.py)

LOGISTICS = "0309876543"
MARKETPLACE = "0101234567"
NUMBER = "107012345670"
RA = "{urn:customs.gov.vn:ecom:risk-alert:1}"
CM = "{urn:customs.gov.vn:ecom:common:1}"


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str) -> Path:
    """The repository's rules, with rates counted from 4 messages and a subscriber that is not a party."""
    return config_with_rules(tmp_path, pki_dir, namespace, business=_fewer_messages_and_a_stranger)


def _fewer_messages_and_a_stranger(rules: str) -> str:
    rules = re.sub(r"(?m)^min_messages = \d+", "min_messages = 4", rules)
    return rules + '\n[[alerts.subscription]]\nparty = "NOBODY"\nkinds = ["LATE_INSPECTION_RESULT"]\n'


def sent(services: Services, kind: str | None = None) -> list[tuple[str, bytes]]:
    """(recipient, signed body) of the RISK_ALERTs in the outbox, oldest first."""
    query = (
        select(outbox.c.recipient, outbox.c.body).where(outbox.c.document_type == "RISK_ALERT").order_by(outbox.c.id)
    )
    with services.engine.connect() as connection:
        found = [(recipient, body) for recipient, body in connection.execute(query)]
    return [(r, b) for r, b in found if kind is None or payload(b).findtext(f"{RA}kind") == kind]


def payload(body: bytes) -> etree._Element:
    found = content_element(xmlsafe.parse(body))
    assert found is not None
    return found


def alert_rows(services: Services) -> list[dict]:
    with services.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(select(alerts).order_by(alerts.c.id))]


LATE = [("INSPECTION_RESULT_DEADLINE", "Kết quả kiểm tra được cập nhật sau 2 giờ làm việc.")]


# --- raise_alert ----------------------------------------------------------------------


def test_an_alert_is_recorded_and_sent_signed_to_each_active_subscriber(services: Services) -> None:
    alert_id = in_context(
        services,
        lambda context: raise_alert(
            context,
            "LATE_INSPECTION_RESULT",
            "MEDIUM",
            LATE,
            declaration=NUMBER,
            party="BYT",
            metrics={"WORKING_HOURS_ELAPSED": 3.25, "DEADLINE_WORKING_HOURS": 2},
        ),
    )

    assert alert_id == alert_id_for("LATE_INSPECTION_RESULT", NUMBER, "BYT")
    (row,) = alert_rows(services)
    assert (row["alert_id"], row["kind"], row["severity"], row["declaration"], row["party"]) == (
        alert_id,
        "LATE_INSPECTION_RESULT",
        "MEDIUM",
        NUMBER,
        "BYT",
    )
    assert row["recipients"] == "HQHCM"  # NOBODY is subscribed too, but is not a party
    assert row["reasons"] == [{"code": "INSPECTION_RESULT_DEADLINE", "text": LATE[0][1]}]
    assert row["metrics"] == {"WORKING_HOURS_ELAPSED": 3.25, "DEADLINE_WORKING_HOURS": 2}
    ((recipient, body),) = sent(services)
    assert recipient == "HQHCM"
    root = xmlsafe.parse(body)
    header = read_header(root)
    assert (header.sender.identity, header.document_type, header.function, header.reference, header.pre_reference) == (
        "VNECOMGW",
        "RISK_ALERT",
        "26",
        alert_id,
        None,
    )
    signer = verify_envelope(root).certificate  # raises unless the signature holds
    assert fingerprint(signer) in services.parties.get("VNECOMGW").certificates
    alert = payload(body)
    assert alert.findtext(f"{RA}subject/{RA}declarationNumber") == NUMBER
    assert [m.findtext(f"{RA}value") for m in alert.iter(f"{RA}metric")] == ["3.25", "2"]
    assert alert.findtext(f"{RA}reasons/{RA}reason/{CM}code") == "INSPECTION_RESULT_DEADLINE"


@pytest.mark.stores("sqlite", "postgresql")  # raised once: ON CONFLICT, per dialect
def test_the_same_alert_is_raised_once(services: Services) -> None:
    def late(context, party: str = "BYT"):  # type: ignore[no-untyped-def]
        return raise_alert(context, "LATE_INSPECTION_RESULT", "MEDIUM", LATE, declaration=NUMBER, party=party)

    first = in_context(services, late)
    assert in_context(services, late) is None  # a second late result on the same declaration
    other = in_context(services, lambda context: late(context, "BCT"))  # another ministry's lateness is another alert

    assert first and other and other != first
    assert [row["alert_id"] for row in alert_rows(services)] == [first, other]
    assert len(sent(services)) == 2


def test_an_alert_about_a_party_names_the_party_and_reason_codes_become_symbols(services: Services) -> None:
    reasons = [("RP-PLATFORM-UNREGISTERED", "Đơn hàng đến từ sàn chưa đăng ký.")]
    in_context(services, lambda context: raise_alert(context, "RISK_PROFILE", "HIGH", reasons, party=MARKETPLACE))

    ((_, body),) = sent(services)
    alert = payload(body)
    assert alert.findtext(f"{RA}subject/{RA}partyId") == MARKETPLACE
    assert alert.find(f"{RA}subject/{RA}declarationNumber") is None
    assert alert.findtext(f"{RA}reasons/{RA}reason/{CM}code") == "RP_PLATFORM_UNREGISTERED"


@pytest.mark.parametrize(
    ("kind", "severity", "reasons", "subject", "error"),
    [
        ("RISK_PROFILE", "CRITICAL", LATE, {"party": LOGISTICS}, ValueError),
        ("RISK_PROFILE", "LOW", LATE, {}, ValueError),
        ("RISK_PROFILE", "LOW", [], {"party": LOGISTICS}, ValueError),
        ("risk profile", "LOW", LATE, {"party": LOGISTICS}, InvalidOutboundMessage),  # nobody subscribes: still checked
    ],
)
def test_an_invalid_alert_fails_its_transaction(
    services: Services, kind: str, severity: str, reasons: list, subject: dict, error: type[Exception]
) -> None:
    with pytest.raises(error):
        in_context(services, lambda context: raise_alert(context, kind, severity, reasons, **subject))
    assert alert_rows(services) == [] and sent(services) == []


# --- windows ---------------------------------------------------------------------------


def test_daily_windows_start_at_local_midnight_and_weekly_ones_on_monday() -> None:
    now = dt.datetime(2026, 3, 11, 3, 0, tzinfo=dt.UTC)  # Wednesday 10:00 in Ho Chi Minh City
    ended, current = windows(now, dt.timedelta(days=1), "Asia/Ho_Chi_Minh")
    assert current.start == dt.datetime(2026, 3, 10, 17, 0, tzinfo=dt.UTC)
    assert (ended.start, ended.end, current.end) == (
        dt.datetime(2026, 3, 9, 17, 0, tzinfo=dt.UTC),
        current.start,
        dt.datetime(2026, 3, 11, 17, 0, tzinfo=dt.UTC),
    )
    _, week = windows(now, dt.timedelta(days=7), "Asia/Ho_Chi_Minh")
    assert week.start == dt.datetime(2026, 3, 8, 17, 0, tzinfo=dt.UTC)  # Monday 9 March, 00:00 local


# --- rates -----------------------------------------------------------------------------


def reject(pipeline: Pipeline, messages: MessageFactory, party: str) -> None:
    """A message signed by `party` itself whose payload its schema refuses: a rejection authenticated as `party`."""

    def invalid(root: etree._Element) -> None:
        content_element(root).find("{*}direction").text = "SIDEWAYS"

    outcome = pipeline.submit(messages.signed("ECOM_ORDER", party, invalid), Transport("http"))
    assert not outcome.accepted and "PAYLOAD_SCHEMA_INVALID" in outcome.codes, outcome.codes


def impersonate(pipeline: Pipeline, messages: MessageFactory, claimed: str, signer: str | None = None) -> None:
    """A message that claims to come from `claimed` but is signed by another party's key (or not at all)."""
    root = messages.envelope("ECOM_ORDER", claimed)
    body = messages.sign(root, signer) if signer else etree.tostring(root)
    outcome = pipeline.submit(body, Transport("http"))
    assert not outcome.accepted, outcome.codes


@pytest.mark.stores("sqlite", "postgresql")  # raised once: ON CONFLICT, per dialect
def test_a_sender_whose_rejection_rate_passes_the_threshold_raises_one_alert_per_window(
    pipeline: Pipeline, messages: MessageFactory, services: Services
) -> None:
    for _ in range(3):
        accept(pipeline, messages, "ECOM_ORDER")
    reject(pipeline, messages, MARKETPLACE)
    reject(pipeline, messages, MARKETPLACE)
    accept(pipeline, messages, "ECOM_DECLARATION")  # 1 message: under min_messages, no rate
    reject(pipeline, messages, LOGISTICS)  # 1 of 1 rejected, but too few to count

    assert in_context(services, check_rates) == 1
    assert in_context(services, check_rates) == 0  # the same window: already raised
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert in_context(services, check_rates, now=tomorrow) == 0  # yesterday's window was raised; today has nothing

    (row,) = alert_rows(services)
    assert (row["kind"], row["party"], row["declaration"], row["recipients"]) == (
        "REJECTION_RATE",
        MARKETPLACE,
        None,
        "HQHCM OPS",
    )
    assert row["metrics"]["HITS"] == 2 and row["metrics"]["TOTAL"] == 5 and row["metrics"]["RATE"] == pytest.approx(0.4)
    assert "2/5" in row["reasons"][0]["text"] and "PAYLOAD_SCHEMA_INVALID (2)" in row["reasons"][0]["text"]
    assert sorted(recipient for recipient, _ in sent(services, "REJECTION_RATE")) == ["HQHCM", "OPS"]


def test_rejections_only_claiming_a_party_do_not_count_in_its_rate(
    pipeline: Pipeline, messages: MessageFactory, services: Services
) -> None:
    for _ in range(12):  # the attack: envelopes that only claim From/identity
        impersonate(pipeline, messages, MARKETPLACE)
    for _ in range(4):
        impersonate(pipeline, messages, MARKETPLACE, signer=LOGISTICS)
    assert in_context(services, check_rates) == 0
    assert alert_rows(services) == []
    with services.engine.connect() as connection:
        counted = connection.execute(select(rejections.c.authenticated, func.count()).group_by(rejections.c.authenticated)).all()
    assert dict(counted) == {False: 16}


def test_a_declarant_whose_mismatch_rate_passes_the_threshold_raises_an_alert(
    pipeline: Pipeline, messages: MessageFactory, services: Services
) -> None:
    stored = accept(pipeline, messages, "ECOM_DECLARATION")
    now = dt.datetime.now(dt.UTC)
    findings = {
        "107000000001": ["VALUE_MISMATCH"],
        "107000000002": ["ORDER_MISSING", "HS_CODE_MISMATCH"],
        "107000000003": ["PLATFORM_NOT_REGISTERED"],  # a finding, but not a mismatch
        "107000000004": [],
    }

    def arrange(context) -> None:  # type: ignore[no-untyped-def]
        goods = [item(1, "39269099", 350000)]
        for number, found in findings.items():
            declaration(context.tx, number, LOGISTICS, stored.pk, goods, at=now, lane="YELLOW" if found else "GREEN")
            decision(
                context.tx, number, "GREEN", [decided(goods[0], "EXEMPT", "DE_MINIMIS_1M")], at=now, findings=found
            )
        # an amendment's decision replaces the first: 107000000004 mismatched after all
        decision(context.tx, "107000000004", "YELLOW", [], at=now, findings=["QUANTITY_MISMATCH"])
        for n in range(3):  # another declarant: every declaration mismatched, but only 3
            declaration(context.tx, f"10710000000{n}", "0312345678", stored.pk, goods, at=now, lane="YELLOW")
            decision(context.tx, f"10710000000{n}", "YELLOW", [], at=now, findings=["VALUE_MISMATCH"])

    in_context(services, arrange)

    assert in_context(services, check_rates) == 1
    (row,) = alert_rows(services)
    assert (row["kind"], row["party"]) == ("MISMATCH_RATE", LOGISTICS)
    assert (row["metrics"]["HITS"], row["metrics"]["TOTAL"]) == (3, 4)
    assert [recipient for recipient, _ in sent(services, "MISMATCH_RATE")] == ["HQHCM"]


def test_a_rate_equal_to_its_threshold_raises_nothing(
    pipeline: Pipeline, messages: MessageFactory, services: Services
) -> None:
    for _ in range(4):
        accept(pipeline, messages, "ECOM_ORDER")
    reject(pipeline, messages, MARKETPLACE)  # 1 of 5: 20%, the threshold itself

    assert in_context(services, check_rates) == 0
    with services.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(alerts)).scalar_one() == 0


def test_the_timers_component_runs_check_rates_from_the_repository_routes_and_publishes_the_alerts(
    pipeline: Pipeline, messages: MessageFactory, services: Services, assembly
) -> None:
    (timer,) = [
        t for t in RoutingTable.load(REPO / "config" / "routes.toml").timers if t.task == "customs.alerts:check_rates"
    ]
    for _ in range(3):
        accept(pipeline, messages, "ECOM_ORDER")
    reject(pipeline, messages, MARKETPLACE)
    reject(pipeline, messages, MARKETPLACE)

    assert assembly.timers().run_once(timer, load_handler(timer.task)) == 1  # type: ignore[arg-type]

    with services.engine.connect() as connection:
        alerts_sent = connection.execute(
            select(outbox.c.id, outbox.c.published_at).where(outbox.c.document_type == "RISK_ALERT")
        ).all()
    assert [moment is not None for _, moment in alerts_sent] == [True, True]  # HQHCM's and OPS's
    for pk, _ in alerts_sent:  # emitted by the timers component, in its history
        assert [(s.from_status, s.to_status, s.actor) for s in services.outbox.timeline(pk)] == [(None, "pending", "timers")]
