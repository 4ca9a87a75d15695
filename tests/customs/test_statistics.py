"""Statistics on both stores: every table of the report counted from messages taken in through the real
intake pipeline and business rows in the shapes the handlers write; rows outside the period left out."""

from __future__ import annotations

import datetime as dt

import pytest
from business import Exchange
from rows import accept, decided, decision, declaration, declared_flow, in_context, inspection, item, order, platform
from sqlalchemy import func, select, update
from support import MessageFactory

from customs.alerts import raise_alert
from customs.state import decisions
from customs.statistics import Period, report
from gateway.pipeline import Pipeline, Transport
from gateway.services import Services
from gateway.store.tables import messages as messages_table
from gateway.store.tables import outbox

NOW = dt.datetime.now(dt.UTC)
LONG_AGO = NOW - dt.timedelta(days=40)
PERIOD = Period(NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1))
MARKETPLACE, LOGISTICS = "0101234567", "0309876543"
REASON = [("REASON_CODE", "Lý do.")]
SAMPLE_VALUE = 349790 + 1207170 + 670650 + 946800 + 841600 + 654870  # conformance/samples/ECOM_DECLARATION.xml


@pytest.fixture
def filled(pipeline: Pipeline, messages: MessageFactory, services: Services) -> None:
    orders_sent = [accept(pipeline, messages, "ECOM_ORDER") for _ in range(2)]
    declared = accept(pipeline, messages, "ECOM_DECLARATION")
    registered = accept(pipeline, messages, "PLATFORM_REGISTRATION")
    old = accept(pipeline, messages, "ECOM_DECLARATION")
    forged = messages.sign(messages.envelope("ECOM_ORDER", MARKETPLACE), LOGISTICS)
    for body in (forged, forged, b"<not-xml"):
        assert not pipeline.submit(body, Transport("http")).accepted
    with services.engine.begin() as connection:  # what the workers would have done, and one message from long ago
        connection.execute(update(messages_table).values(status="processed"))
        connection.execute(update(messages_table).where(messages_table.c.id == registered.pk).values(status="failed"))
        connection.execute(update(messages_table).where(messages_table.c.id == old.pk).values(received_at=LONG_AGO))

    def arrange(context) -> None:  # type: ignore[no-untyped-def]
        tx = context.tx
        platform(tx, registered.pk, "VIETSHOP", "ACTIVE", at=NOW)
        order(tx, orders_sent[0].pk, MARKETPLACE, ["39269099"], at=NOW)
        order(tx, orders_sent[0].pk, LOGISTICS, ["39269099"], at=NOW, role="logistics")  # the same order, corroborated
        order(tx, orders_sent[1].pk, MARKETPLACE, ["62014090"], at=NOW, order_id="VS-2")
        order(tx, orders_sent[1].pk, MARKETPLACE, ["62014090"], at=NOW, order_id="TK-1", platform_id="TIKIVN")
        order(tx, orders_sent[1].pk, MARKETPLACE, ["62014090"], at=LONG_AGO, order_id="VS-OLD")

        green = [item(1, "39269099", 900000), item(2, "62014090", 1100000, "VS-2")]
        declaration(tx, "D1", LOGISTICS, declared.pk, green, at=NOW, lane="GREEN")
        decision(
            tx,
            "D1",
            "GREEN",
            [decided(green[0], "EXEMPT", "DE_MINIMIS_1M"), decided(green[1], "EXEMPT", "QUANTITY_LIST")],
            at=NOW,
        )

        yellow = [item(1, "33041000", 700000), item(2, "85183090", 800000)]
        declaration(tx, "D2", LOGISTICS, declared.pk, yellow, at=NOW, lane="YELLOW")
        decision(tx, "D2", "GREEN", [decided(i, "EXEMPT", "DE_MINIMIS_1M") for i in yellow], at=NOW)
        amended = [
            decided(yellow[0], "EXEMPT", "DE_MINIMIS_1M"),
            decided(yellow[1], "INSPECTION_REQUIRED", "EXCEPTION_LIST", "BCT"),
        ]
        decision(tx, "D2", "YELLOW", amended, at=NOW)  # the amendment's decision replaces the first

        red = [item(1, "95030099", 3000000, "TK-1")]
        declaration(tx, "D3", LOGISTICS, declared.pk, red, at=NOW, lane="RED", direction="EXPORT", platform_id="TIKIVN")
        decision(tx, "D3", "RED", [decided(red[0], "NOT_EXEMPT", "ABOVE_THRESHOLD")], at=NOW)

        declaration(tx, "D4", "0312345678", declared.pk, [item(1, "62014090", 500000)], at=NOW, status="waiting_orders")
        declaration(tx, "D-OLD", LOGISTICS, old.pk, [item(1, "62014090", 7000000, "VS-OLD")], at=LONG_AGO, lane="GREEN")
        decision(tx, "D-OLD", "GREEN", [decided(item(1, "62014090", 7000000), "EXEMPT", "DE_MINIMIS_1M")], at=LONG_AGO)

        inspection(tx, "D2", 2, "85183090", "BCT", status="pass", received_at=NOW, late=False)
        inspection(tx, "D3", 1, "95030099", "BCT", status="fail", received_at=NOW, late=True)
        inspection(tx, "D1", 1, "33041000", "BYT", status="pass", received_at=NOW, late=True)
        inspection(tx, "D4", 1, "21069072", "BYT")  # still awaited
        inspection(tx, "D-OLD", 1, "21069072", "BYT", status="pass", received_at=LONG_AGO, late=False)

        raise_alert(context, "LATE_INSPECTION_RESULT", "MEDIUM", REASON, declaration="D3", party="BCT")
        raise_alert(context, "LATE_INSPECTION_RESULT", "MEDIUM", REASON, declaration="D1", party="BYT")
        raise_alert(context, "RISK_PROFILE", "HIGH", REASON, declaration="D3", party=LOGISTICS)

    in_context(services, arrange)


def test_the_report_counts_what_happened_in_the_period(services: Services, filled: None) -> None:
    with services.engine.connect() as connection:
        result = report(connection, PERIOD)

    assert result.summary == {
        "messages_accepted": 4,
        "messages_rejected": 3,
        "outbound_messages": 3,
        "declarations": 4,
        "declared_value_vnd": 2000000 + 1500000 + 3000000 + 500000,
        "exemptions_granted": 3,
        "exemptions_refused": 2,
        "inspection_results_on_time": 1,
        "inspection_results_late": 2,
        "alerts": 3,
    }
    tables = {table.name: table.records() for table in result.tables}
    assert tables["messages_by_type"] == [
        {"document_type": "ECOM_ORDER", "accepted": 2, "rejected": 2},
        {"document_type": "-", "accepted": 0, "rejected": 1},  # not even XML: no type, no sender
        {"document_type": "ECOM_DECLARATION", "accepted": 1, "rejected": 0},
        {"document_type": "PLATFORM_REGISTRATION", "accepted": 1, "rejected": 0},
    ]
    assert tables["messages_by_sender"] == [
        {"sender": MARKETPLACE, "accepted": 3, "rejected": 2},
        {"sender": "-", "accepted": 0, "rejected": 1},
        {"sender": LOGISTICS, "accepted": 1, "rejected": 0},
    ]
    assert tables["messages_by_status"] == [
        {"status": "processed", "messages": 3},
        {"status": "rejected", "messages": 3},
        {"status": "failed", "messages": 1},
    ]
    assert tables["rejections_by_code"] == [
        {"code": "CERTIFICATE_NOT_REGISTERED", "rejections": 2},
        {"code": "XML_MALFORMED", "rejections": 1},
    ]
    assert tables["outbound_by_type"] == [{"document_type": "RISK_ALERT", "status": "pending", "messages": 3}]
    assert tables["declarations_by_lane"] == [
        {"lane": "GREEN", "direction": "IMPORT", "declarations": 1, "declared_value_vnd": 2000000},
        {"lane": "RED", "direction": "EXPORT", "declarations": 1, "declared_value_vnd": 3000000},
        {"lane": "UNDECIDED", "direction": "IMPORT", "declarations": 1, "declared_value_vnd": 500000},
        {"lane": "YELLOW", "direction": "IMPORT", "declarations": 1, "declared_value_vnd": 1500000},
    ]
    assert tables["exemptions"] == [
        {"exemption": "EXEMPT", "rule": "DE_MINIMIS_1M", "items": 2, "value_vnd": 1600000},
        {"exemption": "EXEMPT", "rule": "QUANTITY_LIST", "items": 1, "value_vnd": 1100000},
        {"exemption": "INSPECTION_REQUIRED", "rule": "EXCEPTION_LIST", "items": 1, "value_vnd": 800000},
        {"exemption": "NOT_EXEMPT", "rule": "ABOVE_THRESHOLD", "items": 1, "value_vnd": 3000000},
    ]
    assert tables["inspection_results"] == [
        {"ministry": "BCT", "on_time": 1, "late": 1, "pass": 1, "fail": 1},
        {"ministry": "BYT", "on_time": 0, "late": 1, "pass": 1, "fail": 0},
    ]
    assert tables["alerts_by_kind"] == [
        {"kind": "LATE_INSPECTION_RESULT", "severity": "MEDIUM", "alerts": 2},
        {"kind": "RISK_PROFILE", "severity": "HIGH", "alerts": 1},
    ]
    assert tables["top_platforms"] == [
        {"platform_id": "VIETSHOP", "registration": "ACTIVE", "orders": 2, "declared_value_vnd": 4000000},
        {"platform_id": "TIKIVN", "registration": "UNREGISTERED", "orders": 1, "declared_value_vnd": 3000000},
    ]


def test_top_platforms_are_cut_at_the_number_asked(services: Services, filled: None) -> None:
    with services.engine.connect() as connection:
        (top,) = report(connection, PERIOD, top=1).table("top_platforms").rows

    assert top[0] == "VIETSHOP"


def test_a_period_before_anything_happened_is_empty(services: Services, filled: None) -> None:
    with services.engine.connect() as connection:
        result = report(connection, Period(LONG_AGO - dt.timedelta(days=10), LONG_AGO - dt.timedelta(days=9)))

    assert set(result.summary.values()) == {0}
    assert all(table.rows == () for table in result.tables)


def test_a_period_needs_zoned_bounds_in_order() -> None:
    with pytest.raises(ValueError, match="time zone"):
        Period(dt.datetime(2026, 3, 1), dt.datetime(2026, 4, 1))
    with pytest.raises(ValueError, match="before it starts"):
        Period(NOW, NOW - dt.timedelta(seconds=1))


def test_the_report_shows_the_numbers_of_a_real_flow(exchange: Exchange, services: Services) -> None:
    """Also the business's PostgreSQL cross-check: a whole flow through intake and the handlers on both stores."""
    declared_flow(exchange)  # the sample platform, order and declaration, through intake and the handlers
    with services.engine.connect() as connection:
        result = report(connection, PERIOD)
        record = connection.execute(select(decisions.c.record)).scalar_one()
        sent = connection.execute(select(func.count()).select_from(outbox)).scalar_one()

    granted = sum(1 for i in record["items"] if i["exemption"] == "EXEMPT")
    assert 0 < granted < len(record["items"])  # line 2 (1,207,170 VND) is above the threshold
    summary = result.summary
    assert (summary["messages_accepted"], summary["messages_rejected"], summary["declarations"]) == (3, 0, 1)
    assert (summary["exemptions_granted"], summary["exemptions_refused"]) == (granted, len(record["items"]) - granted)
    assert summary["declared_value_vnd"] == SAMPLE_VALUE and summary["outbound_messages"] == sent > 0
    assert result.table("declarations_by_lane").records() == [
        {"lane": record["lane"], "direction": "IMPORT", "declarations": 1, "declared_value_vnd": SAMPLE_VALUE}
    ]
    assert result.table("top_platforms").records() == [
        {"platform_id": "VIETSHOP", "registration": "ACTIVE", "orders": 1, "declared_value_vnd": SAMPLE_VALUE}
    ]
