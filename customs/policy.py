"""POLICY_NOTICE: the ministries' exception lists and quantity-limited exemption lists, versioned.

Only ministries may send a notice (the catalogue's senders), and only about
themselves: the notice's `ministry` must be its sender (checked at intake, see
customs/entitlement.py). Each entry is kept with
- its validity, from the notice: from 00:00 of `effectiveFrom` to the end of
  `effectiveTo` (exclusive bound: 00:00 of the next day), local dates in the
  business calendar's zone;
- when the gateway learnt it (`recorded_at`) and, once an amendment or a
  cancellation replaced it, when it stopped counting (`withdrawn_at`).

Function 01 records the entries (a second 01 for the same notice number replaces
the first, like 02, so no entry is ever counted twice); 02 withdraws the notice's
entries as of now and records the new ones; 03 withdraws them. Nothing is deleted.

An exemption decision taken at time T uses the entries recorded by T, not
withdrawn by T and effective at T (`entries_in_force`): a notice never changes a
decision already taken, and a decision can be explained later from this table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from lxml import etree
from sqlalchemy import Connection, and_, insert, or_, select, update

from customs.context import Context
from customs.documents import optional_text, prefixes, required_text
from customs.state import policy_entries
from customs.timestamps import as_utc, as_utc_or_none, local_day_end, local_midnight
from gateway.inbound import InboundMessage

log = structlog.get_logger(__name__)

KIND_OF_ELEMENT = {"exceptionEntry": "exception", "quantityExemptionEntry": "quantity"}


@dataclass(frozen=True)
class PolicyEntry:
    """One list entry of a ministry's notice (satisfies customs.exemption.ListEntry)."""

    notice: str
    ministry: str
    entry_id: str
    kind: str  # "exception" | "quantity"
    hs_code: str | None
    hs_prefix: str | None
    description: str | None
    reason: str | None
    max_quantity: float | None
    unit: str | None
    per: str | None  # SHIPMENT | YEAR, for quantity entries
    effective_from: dt.datetime
    effective_to: dt.datetime | None  # exclusive
    recorded_at: dt.datetime
    withdrawn_at: dt.datetime | None

    def covers(self, hs_code: str) -> bool:
        if self.hs_code is not None:
            return hs_code == self.hs_code
        return self.hs_prefix is not None and hs_code.startswith(self.hs_prefix)


def receive(message: InboundMessage, context: Context) -> str:
    assert message.content is not None
    header = message.header
    ministry = header.sender.identity
    notice = required_text(message.content, "pn:noticeNumber", prefixes(message.content, "pn"))
    bound = log.bind(
        notice=notice, ministry=ministry, message_id=message.stored.message_id, correlation_id=context.correlation_id
    )
    withdrawn = _withdraw(context.tx, ministry, notice, context.now)
    if header.function == "03":
        bound.info("policy notice cancelled", withdrawn=withdrawn)
        return f"policy notice {notice} ({ministry}) cancelled: {withdrawn} entries withdrawn"
    zone = ZoneInfo(context.rules.business.calendar.timezone)
    rows = _entries(message.content, ministry, notice, zone, context.now, message.stored.pk)
    context.tx.execute(insert(policy_entries), rows)
    bound.info("policy notice recorded", entries=len(rows), withdrawn=withdrawn)
    return f"policy notice {notice} ({ministry}): {len(rows)} entries recorded, {withdrawn} withdrawn"


def entries_in_force(
    connection: Connection, at: dt.datetime, decided_at: dt.datetime | None = None
) -> list[PolicyEntry]:
    """The entries that apply at `at` for a decision taken at `decided_at` (default: `at`).

    Known by then (recorded_at <= decided_at), not withdrawn by then, and effective
    at `at` (effective_from <= at < effective_to).
    """
    at, known = as_utc(at), as_utc(decided_at or at)
    c = policy_entries.c
    query = (
        select(policy_entries)
        .where(c.recorded_at <= known, or_(c.withdrawn_at.is_(None), c.withdrawn_at > known))
        .where(c.effective_from <= at, or_(c.effective_to.is_(None), c.effective_to > at))
        .order_by(c.id)
    )
    return [_entry(row) for row in connection.execute(query)]


def listing_ministries(connection: Connection, hs_code: str) -> set[str]:
    """The ministries that have ever put goods with this HS code on an exception list.

    Such a ministry is in charge of the inspection its listing required, even of
    goods that no configured authority gives it (customs/entitlement.py).
    """
    query = select(policy_entries).where(policy_entries.c.kind == "exception")
    return {entry.ministry for entry in map(_entry, connection.execute(query)) if entry.covers(hs_code)}


def _withdraw(tx: Connection, ministry: str, notice: str, now: dt.datetime) -> int:
    c = policy_entries.c
    current = and_(c.ministry == ministry, c.notice == notice, c.withdrawn_at.is_(None))
    return tx.execute(update(policy_entries).where(current).values(withdrawn_at=now)).rowcount


def _entries(
    content: etree._Element, ministry: str, notice: str, zone: ZoneInfo, now: dt.datetime, message: int
) -> list[dict[str, Any]]:
    ns = prefixes(content, "pn")
    effective_to = optional_text(content, "pn:effectiveTo", ns)
    validity = {
        "effective_from": local_midnight(dt.date.fromisoformat(required_text(content, "pn:effectiveFrom", ns)), zone),
        "effective_to": (
            local_day_end(dt.date.fromisoformat(effective_to), zone) if effective_to else None
        ),
    }
    entries = content.find("pn:entries", ns)
    assert entries is not None  # schema-valid
    rows = []
    for position, element in enumerate(entries, start=1):
        quantity = optional_text(element, "pn:maxQuantity", ns)
        rows.append(
            {
                "notice": notice,
                "ministry": ministry,
                # entryId is optional; the position in the notice then names the entry.
                "entry_id": optional_text(element, "pn:entryId", ns) or str(position),
                "kind": KIND_OF_ELEMENT[etree.QName(element).localname],
                "hs_code": optional_text(element, "pn:hsCode", ns),
                "hs_prefix": optional_text(element, "pn:hsPrefix", ns),
                "description": optional_text(element, "pn:description", ns),
                "reason": optional_text(element, "pn:reason", ns),
                "max_quantity": float(quantity) if quantity is not None else None,
                "unit": optional_text(element, "pn:unit", ns),
                "per": optional_text(element, "pn:per", ns),
                "recorded_at": now,
                "withdrawn_at": None,
                "message": message,
                **validity,
            }
        )
    return rows


def _entry(row: Any) -> PolicyEntry:
    return PolicyEntry(
        notice=row.notice,
        ministry=row.ministry,
        entry_id=row.entry_id,
        kind=row.kind,
        hs_code=row.hs_code,
        hs_prefix=row.hs_prefix,
        description=row.description,
        reason=row.reason,
        max_quantity=row.max_quantity,
        unit=row.unit,
        per=row.per,
        effective_from=as_utc(row.effective_from),
        effective_to=as_utc_or_none(row.effective_to),
        recorded_at=as_utc(row.recorded_at),
        withdrawn_at=as_utc_or_none(row.withdrawn_at),
    )
