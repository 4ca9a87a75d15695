"""Entitlement, checked at intake after validation: the sender's role may send this document type,
but is the sender the party in charge of what this document is about?

- INSPECTION_RESULT: the inspection authority named must be the sender, and the
  sender must be in charge of every item's goods: the ministry that business.toml
  ([[inspection.authority]]) gives the HS code to, or a ministry that put the goods
  on an exception list (its listing is what required the inspection).
- POLICY_NOTICE: the notice's ministry must be its sender.
- PLATFORM_REGISTRATION: a party that is not a ministry registers only platforms
  it operates, and changes a registered platform only while it is its operator.

Refusals carry the code NOT_ENTITLED, one problem per thing refused, so the
sender gets a signed rejection rather than a message that is silently not applied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lxml import etree
from sqlalchemy import select

from gateway.errors import ErrorCode, Problem
from gateway.parties import Party
from routing.documents import COMMON_NS, INSPECTION_NS, PLATFORM_NS, POLICY_NS
from routing.handlers.platforms import may_change, operator_of
from routing.handlers.policy import listing_ministries
from routing.rules import business_rules
from routing.state import platforms

if TYPE_CHECKING:
    from gateway.services import Services

CONTENT = "/Envelope/Body/Content"

Check = Callable[[Party, etree._Element, "Services"], list[Problem]]


def problems(document_type: str, content: etree._Element | None, party: Party, services: Services) -> list[Problem]:
    """Every reason the sender is not entitled to send this document (none for most document types)."""
    check = _CHECKS.get(document_type)
    if check is None or content is None:
        return []
    return check(party, content, services)


def _inspection_result(party: Party, content: etree._Element, services: Services) -> list[Problem]:
    ns = {"ir": INSPECTION_NS, "cm": COMMON_NS}
    found = []
    authority = content.findtext("ir:inspectionAuthority/cm:code", namespaces=ns)
    if authority is not None and authority.strip() != party.identity:
        found.append(
            _refusal(
                f"the inspection authority {authority.strip()!r} is not the sender {party.identity!r}",
                "InspectionResult/inspectionAuthority/code",
            )
        )
    rules = business_rules(services.settings.business_file)
    items = [
        (
            position,
            (item.findtext("ir:lineNumber", namespaces=ns) or "?").strip(),
            (item.findtext("ir:hsCode", namespaces=ns) or "").strip(),
        )
        for position, item in enumerate(content.iterfind("ir:items/ir:item", namespaces=ns), start=1)
    ]
    others = [
        (position, line, hs_code) for position, line, hs_code in items if rules.ministry_for(hs_code) != party.identity
    ]
    if others:
        with services.engine.connect() as connection:
            others = [item for item in others if party.identity not in listing_ministries(connection, item[2])]
    for position, line, hs_code in others:
        found.append(
            _refusal(
                f"item {line}: goods with HS code {hs_code} are in the charge of {rules.ministry_for(hs_code) or 'no ministry'}, "
                f"not of {party.identity}",
                f"InspectionResult/items/item[{position}]/hsCode",
            )
        )
    return found


def _policy_notice(party: Party, content: etree._Element, services: Services) -> list[Problem]:
    ministry = (content.findtext(f"{{{POLICY_NS}}}ministry/{{{COMMON_NS}}}code") or "").strip()
    if ministry == party.identity:
        return []
    return [
        _refusal(
            f"the notice is issued by {ministry!r}; {party.identity!r} may only send its own notices",
            "PolicyNotice/ministry/code",
        )
    ]


def _platform_registration(party: Party, content: etree._Element, services: Services) -> list[Problem]:
    if "ministry" in party.roles:
        return []
    operator = operator_of(content)
    if operator != party.identity:
        return [
            _refusal(
                f"{party.identity!r} may only register platforms it operates; the operator named is {operator!r}",
                "PlatformRegistration/operator/id",
            )
        ]
    platform_id = (content.findtext(f"{{{PLATFORM_NS}}}platformId") or "").strip()
    with services.engine.connect() as connection:
        current = connection.execute(
            select(platforms.c.operator, platforms.c.status).where(platforms.c.platform_id == platform_id)
        ).first()
    if current is not None and not may_change(
        current.operator, current.status, party.identity, sender_is_ministry=False
    ):
        return [
            _refusal(
                f"platform {platform_id!r} is registered to operator {current.operator!r}",
                "PlatformRegistration/platformId",
            )
        ]
    return []


def _refusal(message: str, path: str) -> Problem:
    return Problem(ErrorCode.NOT_ENTITLED, message, f"{CONTENT}/{path}")


_CHECKS: dict[str, Check] = {
    "INSPECTION_RESULT": _inspection_result,
    "POLICY_NOTICE": _policy_notice,
    "PLATFORM_REGISTRATION": _platform_registration,
}
