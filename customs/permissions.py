"""Read permissions: what a party may see of the messages and decisions about a reference.

A reference is a declaration number, an order id, a messageId, or any other
Subject/reference. What concerns it: the inbound messages and the gateway's own
messages (outbox) whose reference, messageId or preReference is it, and, for a
declaration number, the decisions taken on it.

Who sees what:
- customs and operators see everything;
- every party sees the messages it sent and those the gateway sent to it;
- a ministry also sees the declarations that concern its goods, with their
  messages and decisions (an inspection was required from it, the decision named
  it as the ministry of an item, or, given the business rules, an item's HS code
  is under its authority), and the orders of those declarations or of goods
  under its authority.

When a party may read nothing about a reference it is refused with the same words
whether or not anything exists: a refusal must not tell a party that a
declaration it has no right to see exists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, or_, select

from customs.rules import BusinessRules
from customs.state import decisions, declaration_orders, declarations, inspections, orders
from customs.timestamps import as_utc
from gateway import xmlsafe
from gateway.envelope import read_header
from gateway.exceptions import ReadRefused
from gateway.parties import Party
from gateway.store.tables import messages, outbox

SEE_ALL_ROLES = frozenset({"customs", "operator"})
# The documents whose Subject/reference is a declaration number.
DECLARATION_DOCUMENTS = frozenset({"ECOM_DECLARATION", "INSPECTION_RESULT", "LANE_NOTICE", "RESULT_NOTICE"})
DECISION = "DECISION"  # the document_type of a decision entry


def readable(
    connection: Connection, reader: Party, reference: str, *, rules: BusinessRules | None = None
) -> list[dict[str, Any]]:
    """What `reader` may see about `reference`, oldest first.

    Each entry has: source ("inbound", "outbound" or "decision"), at, sender,
    recipient, message_id, document_type, function, reference, pre_reference,
    status, body (the signed bytes) and record (a decision's record; its status is
    its lane). Pass the business rules so that a ministry also sees what is under
    its authority before any decision names it.
    """
    if not reader.active:
        raise ReadRefused(f"{reader.identity} is {reader.status} and may read nothing")
    found = [*_inbound(connection, reference), *_outbound(connection, reference), *_decisions(connection, reference)]
    if reader.roles & SEE_ALL_ROLES:
        visible = found
    else:
        ministry = _MinistryView(connection, reader.identity, rules) if "ministry" in reader.roles else None
        visible = [
            entry
            for entry in found
            if _own(entry, reader.identity) or (ministry is not None and ministry.concerns(entry))
        ]
    if not visible:
        raise ReadRefused(f"nothing about {reference} may be read by {reader.identity}")
    return sorted(visible, key=lambda entry: (entry["at"], entry["source"]))


def signed_messages(connection: Connection, reader: Party, reference: str, *, rules: BusinessRules) -> list[bytes]:
    """The signed envelopes `reader` may read about `reference` (what a MESSAGE_QUERY by reference gets).

    Decisions are records, not messages: only signed envelopes travel in a query's answer.
    """
    entries = readable(connection, reader, reference, rules=rules)
    return [entry["body"] for entry in entries if entry["body"] is not None]


def _own(entry: dict[str, Any], party: str) -> bool:
    """A message the party sent, or one the gateway sent to it."""
    return (entry["source"] == "inbound" and entry["sender"] == party) or (
        entry["source"] == "outbound" and entry["recipient"] == party
    )


class _MinistryView:
    """Which declarations and orders concern one ministry's goods (each looked up once)."""

    def __init__(self, connection: Connection, ministry: str, rules: BusinessRules | None) -> None:
        self.connection = connection
        self.ministry = ministry
        self.rules = rules
        self._declarations: dict[str, bool] = {}
        self._orders: dict[tuple[str, str], bool] = {}

    def concerns(self, entry: dict[str, Any]) -> bool:
        reference, document_type = entry["reference"], entry["document_type"]
        if reference is None:
            return False
        if document_type in DECLARATION_DOCUMENTS or document_type == DECISION:
            return self.declaration(reference)
        if document_type == "ECOM_ORDER":
            sender = entry["sender"] if entry["source"] == "inbound" else None
            return any(self.order(key) for key in self._order_keys(reference, sender))
        return False

    def declaration(self, number: str) -> bool:
        if number not in self._declarations:
            self._declarations[number] = (
                self._inspects(number) or self._named_in_decision(number) or self._declared_goods(number)
            )
        return self._declarations[number]

    def order(self, key: tuple[str, str]) -> bool:
        """An order concerns the ministry when one of its declarations does, or its goods are under its authority."""
        if key not in self._orders:
            platform_id, order_id = key
            numbers = self.connection.execute(
                select(declaration_orders.c.declaration).where(
                    declaration_orders.c.platform_id == platform_id, declaration_orders.c.order_id == order_id
                )
            ).scalars()
            facts = self.connection.execute(
                select(orders.c.facts).where(orders.c.platform_id == platform_id, orders.c.order_id == order_id)
            ).scalars()
            self._orders[key] = any(self.declaration(n) for n in numbers) or any(
                self._under_authority(f.get("items", ())) for f in facts
            )
        return self._orders[key]

    def _order_keys(self, order_id: str, sender: str | None) -> set[tuple[str, str]]:
        """The (platform, order id) keys an order message may be about: the platforms its sender sent that order id for."""
        query = select(orders.c.platform_id).where(orders.c.order_id == order_id)
        if sender is not None:
            query = query.where(orders.c.sender == sender)
        return {(platform_id, order_id) for platform_id in self.connection.execute(query).scalars()}

    def _inspects(self, number: str) -> bool:
        query = select(inspections.c.id).where(
            inspections.c.declaration == number, inspections.c.ministry == self.ministry
        )
        return self.connection.execute(query.limit(1)).first() is not None

    def _named_in_decision(self, number: str) -> bool:
        query = (
            select(decisions.c.record).where(decisions.c.declaration == number).order_by(decisions.c.id.desc()).limit(1)
        )
        record = self.connection.execute(query).scalar_one_or_none()
        return record is not None and any(item.get("ministry") == self.ministry for item in record.get("items", ()))

    def _declared_goods(self, number: str) -> bool:
        facts = self.connection.execute(
            select(declarations.c.facts).where(declarations.c.number == number)
        ).scalar_one_or_none()
        return facts is not None and self._under_authority(facts.get("items", ()))

    def _under_authority(self, items: Iterable[dict[str, Any]]) -> bool:
        rules = self.rules
        return rules is not None and any(rules.ministry_for(item["hs_code"]) == self.ministry for item in items)


# --- what concerns a reference -------------------------------------------------------


_MESSAGE_FIELDS = (
    "message_id",
    "recipient",
    "document_type",
    "function",
    "reference",
    "pre_reference",
    "status",
    "body",
)


def _inbound(connection: Connection, reference: str) -> list[dict[str, Any]]:
    query = (
        select(messages)
        .where(
            or_(
                messages.c.reference == reference,
                messages.c.message_id == reference,
                messages.c.pre_reference == reference,
            )
        )
        .order_by(messages.c.id)
    )
    return [_message_entry("inbound", row.received_at, row.sender, row._mapping) for row in connection.execute(query)]


def _outbound(connection: Connection, reference: str) -> list[dict[str, Any]]:
    query = (
        select(outbox)
        .where(
            or_(outbox.c.reference == reference, outbox.c.message_id == reference, outbox.c.pre_reference == reference)
        )
        .order_by(outbox.c.id)
    )
    return [
        _message_entry("outbound", row.created_at, read_header(xmlsafe.parse(row.body)).sender.identity, row._mapping)
        for row in connection.execute(query)
    ]


def _decisions(connection: Connection, reference: str) -> list[dict[str, Any]]:
    return [
        {
            "source": "decision",
            "at": as_utc(row.decided_at),
            "sender": None,
            "recipient": None,
            "message_id": None,
            "document_type": DECISION,
            "function": None,
            "reference": row.declaration,
            "pre_reference": None,
            "status": row.lane,
            "body": None,
            "record": row.record,
        }
        for row in connection.execute(
            select(decisions).where(decisions.c.declaration == reference).order_by(decisions.c.id)
        )
    ]


def _message_entry(source: str, at: dt.datetime, sender: str, row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "source": source,
        "at": as_utc(at),
        "sender": sender,
        **{name: row[name] for name in _MESSAGE_FIELDS},
        "record": None,
    }
