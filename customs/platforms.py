"""PLATFORM_REGISTRATION: the registry of e-commerce platforms and websites, with the history of every change.

01 registers and 02 amends (both record what was sent: operator, websites,
country, type, status, effective date); 03 cancels. Each accepted change is one
row of `platform_history`, so the standing of a platform at any past moment can
be told (`platform_standing`), which is what a replayed decision needs.

Marketplaces register their own platforms; ministries may register, amend,
suspend or cancel any platform. A marketplace may change a registered platform
only while it is its operator (`may_change`): intake refuses the others with a
signed rejection (customs/entitlement.py), and the handler checks again, since
two registrations can pass intake before either is processed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from lxml import etree
from sqlalchemy import Connection, insert, select, update

from customs.context import Context
from customs.documents import prefixes, required_text
from customs.state import platform_history, platforms
from customs.timestamps import as_utc, local_midnight
from gateway.inbound import InboundMessage

log = structlog.get_logger(__name__)

ACTIVE = "ACTIVE"
CANCELLED = "CANCELLED"  # by function 03; SUSPENDED and CLOSED are sent as the platform's status
NOT_YET_EFFECTIVE = "NOT_YET_EFFECTIVE"  # registered ACTIVE, but from a later date


def receive(message: InboundMessage, context: Context) -> str:
    assert message.content is not None
    header = message.header
    sender = header.sender.identity
    platform_id = required_text(message.content, "pr:platformId", prefixes(message.content, "pr"))
    bound = log.bind(
        platform=platform_id, sender=sender, message_id=message.stored.message_id, correlation_id=context.correlation_id
    )
    current = context.tx.execute(
        select(platforms).where(platforms.c.platform_id == platform_id).with_for_update()
    ).first()
    if current is not None and not may_change(current.operator, current.status, sender, _is_ministry(context, sender)):
        bound.warning("platform change refused", operator=current.operator)
        return f"platform {platform_id}: change by {sender} refused; its operator is {current.operator}"
    if header.function == "03":
        if current is None:
            return f"platform {platform_id} is not registered; nothing to cancel"
        row = {**_row_of(current), "status": CANCELLED}
    else:
        zone = ZoneInfo(context.rules.business.calendar.timezone)
        row = read_registration(message.content, zone)
    row |= {"sender": sender, "message": message.stored.pk, "updated_at": context.now}
    if current is None:
        context.tx.execute(insert(platforms).values(platform_id=platform_id, **row))
    else:
        context.tx.execute(update(platforms).where(platforms.c.platform_id == platform_id).values(row))
    context.tx.execute(
        insert(platform_history).values(
            platform_id=platform_id,
            function=header.function,
            status=row["status"],
            facts={"name": row["name"], "operator": row["operator"], "country": row["country"], **row["facts"]},
            sender=sender,
            message=message.stored.pk,
            recorded_at=context.now,
        )
    )
    bound.info("platform recorded", function=header.function, status=row["status"])
    return f"platform {platform_id} {row['status']} (function {header.function}) from {sender}"


def platform_standing(connection: Connection, platform_id: str, at: dt.datetime) -> str | None:
    """The platform's status at `at` as the registry knew it then; None when it was not registered.

    ACTIVE, SUSPENDED, CLOSED (as sent), CANCELLED (registration cancelled), or
    NOT_YET_EFFECTIVE (registered as active from a date after `at`).
    """
    at = as_utc(at)
    latest = connection.execute(
        select(platform_history.c.status, platform_history.c.facts)
        .where(platform_history.c.platform_id == platform_id, platform_history.c.recorded_at <= at)
        .order_by(platform_history.c.recorded_at.desc(), platform_history.c.id.desc())
        .limit(1)
    ).first()
    if latest is None:
        return None
    if latest.status == ACTIVE and dt.datetime.fromisoformat(latest.facts["effective_from_at"]) > at:
        return NOT_YET_EFFECTIVE
    return str(latest.status)


def may_change(operator: str, status: str, sender: str, sender_is_ministry: bool) -> bool:
    """Whether `sender` may change a platform registered with this operator and status.

    A ministry always may; so may the operator; anyone may register a platform
    whose registration was cancelled (it is free again).
    """
    return sender_is_ministry or sender == operator or status == CANCELLED


def operator_of(content: etree._Element) -> str:
    """The operator a registration names: its party id (`operator/cm:id`)."""
    return required_text(content, "pr:operator/cm:id", prefixes(content, "pr"))


def read_registration(content: etree._Element, zone: ZoneInfo) -> dict[str, Any]:
    """The registry row for a registration or amendment (effective dates are local dates in `zone`)."""
    ns = prefixes(content, "pr")
    effective_from = dt.date.fromisoformat(required_text(content, "pr:effectiveFrom", ns))
    return {
        "name": required_text(content, "pr:name", ns),
        "operator": operator_of(content),
        "country": required_text(content, "pr:countryCode", ns),
        "status": required_text(content, "pr:status", ns),
        "facts": {
            "operator_name": required_text(content, "pr:operator/cm:name", ns),
            "operator_tax_code": content.findtext("pr:operator/cm:taxCode", namespaces=ns),
            "websites": [url.strip() for url in content.xpath("pr:websites/pr:url/text()", namespaces=ns)],
            "type": required_text(content, "pr:platformType", ns),
            "effective_from": effective_from.isoformat(),
            "effective_from_at": local_midnight(effective_from, zone).isoformat(),
            "contact_email": content.findtext("pr:contactEmail", namespaces=ns),
            "contact_phone": content.findtext("pr:contactPhone", namespaces=ns),
        },
    }


def _row_of(current: Any) -> dict[str, Any]:
    return {"name": current.name, "operator": current.operator, "country": current.country, "facts": current.facts}


def _is_ministry(context: Context, party_id: str) -> bool:
    party = context.parties.get(party_id)
    return party is not None and "ministry" in party.roles
