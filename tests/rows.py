"""Helpers for tests that need business state: messages accepted through the real intake pipeline
(and processed by running workers), handler transactions, and realistic rows written straight into
the business tables (in the shapes the handlers write: declaration facts, decision records,
inspections, orders, platforms)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from business import Exchange
from lxml import etree
from sqlalchemy import Connection, insert
from support import MessageFactory

from app.wiring import customs_rules
from conformance import SAMPLE_SENDERS
from customs.context import Context
from customs.state import decisions, declaration_orders, declarations, inspections, orders, platforms
from gateway.pipeline import Pipeline, Transport
from gateway.services import Services
from gateway.store.engine import writing
from gateway.store.messages import StoredMessage
from routing.processing import context_for

T = TypeVar("T")
HTTP = Transport("http")
PLATFORM = "VIETSHOP"
ORDER = "VS-260309-0091847"


def in_context(services: Services, task: Callable[[Context], T], *, now: dt.datetime | None = None) -> T:
    """Run `task` as a handler would: one transaction, with a customs Context; returns what it returns."""
    with writing(services.engine) as tx:
        return task(context_for(services, customs_rules(services), tx, now or dt.datetime.now(dt.UTC), "test-correlation", "worker"))


def accept(
    pipeline: Pipeline,
    messages: MessageFactory,
    document_type: str,
    party: str | None = None,
    edit: Callable[[etree._Element], object] | None = None,
) -> StoredMessage:
    """A fresh sample accepted through intake (stored and published, not processed)."""
    party = party or SAMPLE_SENDERS[document_type]
    outcome = pipeline.submit(messages.signed(document_type, party, edit), HTTP)
    assert outcome.accepted and outcome.message_id, outcome.codes
    stored = pipeline.services.store.get(party, outcome.message_id)
    assert stored is not None
    return stored


def item(line: int, hs_code: str, value_vnd: int, order_id: str = ORDER) -> dict[str, Any]:
    """A declaration item as the declarations handler keeps it in `facts`."""
    return {
        "line": line,
        "order_id": order_id,
        "order_line": line,
        "description": f"hàng hóa dòng {line}",
        "hs_code": hs_code,
        "quantity": 1.0,
        "unit": "PCE",
        "value_vnd": value_vnd,
        "origin": "CN",
        "invoice_value": str(round(value_vnd / 26300, 2)),
        "currency": "USD",
        "licence": None,
    }


def declaration(
    tx: Connection,
    number: str,
    declarant: str,
    message: int,
    items: Sequence[dict[str, Any]],
    *,
    at: dt.datetime,
    lane: str | None = None,
    status: str = "decided",
    direction: str = "IMPORT",
    platform_id: str = PLATFORM,
) -> None:
    order_ids = sorted({i["order_id"] for i in items})
    facts = {
        "declarant": declarant,
        "customs_office": "02DS",
        "border_gate": "02B1",
        "registration_date": at.isoformat(),
        "orders": [{"order_id": o, "platform_id": platform_id} for o in order_ids],
        "items": list(items),
    }
    tx.execute(
        insert(declarations).values(
            number=number,
            declarant=declarant,
            direction=direction,
            status=status,
            facts=facts,
            message=message,
            correlation_id="test-correlation",
            total_value_vnd=sum(i["value_vnd"] for i in items),
            lane=lane,
            received_at=at,
            decided_at=at if lane else None,
            updated_at=at,
        )
    )
    for order_id in order_ids:
        tx.execute(insert(declaration_orders).values(declaration=number, platform_id=platform_id, order_id=order_id))


def decided(item: dict[str, Any], exemption: str, rule: str, ministry: str | None = None) -> dict[str, Any]:
    """An item of a decision record."""
    return {
        "line": item["line"],
        "hs_code": item["hs_code"],
        "value_vnd": item["value_vnd"],
        "exemption": exemption,
        "rule": rule,
        "list_entry": None,
        "ministry": ministry,
        "text": f"{exemption} theo {rule}",
    }


def decision(
    tx: Connection,
    number: str,
    lane: str,
    items: Sequence[dict[str, Any]],
    *,
    at: dt.datetime,
    findings: Sequence[str] = (),
) -> None:
    record = {
        "rules_version": "2026.11-1",
        "risk_version": "2026.11-1",
        "decided_at": at.isoformat(),
        "findings": [{"code": code, "line": None, "order_id": ORDER, "text": code} for code in findings],
        "items": list(items),
        "profiles": [],
        "random": {"seed": "0", "draw": 0.5, "rate_percent": 0.0, "selected": False},
        "lane": lane,
    }
    tx.execute(insert(decisions).values(declaration=number, decided_at=at, lane=lane, record=record))


def inspection(
    tx: Connection,
    number: str,
    line: int,
    hs_code: str,
    ministry: str,
    *,
    status: str = "required",
    received_at: dt.datetime | None = None,
    late: bool | None = None,
) -> None:
    tx.execute(
        insert(inspections).values(
            declaration=number,
            line=line,
            hs_code=hs_code,
            ministry=ministry,
            status=status,
            issued_at=received_at,
            received_at=received_at,
            late=late,
            working_hours=None if late is None else (3.5 if late else 0.5),
        )
    )


def order(
    tx: Connection,
    message: int,
    sender: str,
    hs_codes: Sequence[str],
    *,
    at: dt.datetime,
    order_id: str = ORDER,
    platform_id: str = PLATFORM,
    role: str = "marketplace",
) -> None:
    facts = {
        "order_id": order_id,
        "platform_id": platform_id,
        "direction": "IMPORT",
        "items": [{"line": n, "hs_code": hs, "quantity": 1.0, "unit": "PCE"} for n, hs in enumerate(hs_codes, 1)],
        "transport_mode": "AIR",
    }
    tx.execute(
        insert(orders).values(
            platform_id=platform_id,
            order_id=order_id,
            sender=sender,
            sender_role=role,
            priority=2,
            direction="IMPORT",
            status="active",
            facts=facts,
            message=message,
            received_at=at,
            updated_at=at,
        )
    )


def platform(tx: Connection, message: int, platform_id: str, status: str, *, at: dt.datetime) -> None:
    tx.execute(
        insert(platforms).values(
            platform_id=platform_id,
            name=platform_id.title(),
            operator="0101234567",
            country="VN",
            status=status,
            facts={},
            sender="0101234567",
            message=message,
            updated_at=at,
        )
    )


def declared_flow(exchange: Exchange) -> dict[str, StoredMessage]:
    """The sample platform, order and declaration, each processed by its handlers before the next is sent."""
    return {document_type: exchange.send(document_type) for document_type in ("PLATFORM_REGISTRATION", "ECOM_ORDER", "ECOM_DECLARATION")}
