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
`register` plugs the checks into the intake pipeline against their document types.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from lxml import etree
from sqlalchemy import Connection, select

from customs.documents import prefixes
from customs.platforms import may_change, operator_of
from customs.policy import listing_ministries
from customs.rules import BusinessRules, Rules
from customs.state import platforms
from gateway.behaviours import Behaviours
from gateway.errors import ErrorCode, Problem
from gateway.locations import describe
from gateway.parties import Party

Check = Callable[[Party, etree._Element, Connection, BusinessRules], list[Problem]]


def register(behaviours: Behaviours, rules: Rules) -> None:
    """Check, at intake, that the senders of these document types are in charge of what they send."""
    for document_type, check in _CHECKS.items():
        behaviours.register(document_type, entitle=partial(_with_rules, check, rules))


def _with_rules(check: Check, rules: Rules, party: Party, content: etree._Element, connection: Connection) -> list[Problem]:
    return check(party, content, connection, rules.business)


def _inspection_result(party: Party, content: etree._Element, connection: Connection, rules: BusinessRules) -> list[Problem]:
    ns = prefixes(content, "ir")
    found = []
    authority = content.findtext("ir:inspectionAuthority/cm:code", namespaces=ns)
    if authority is not None and authority.strip() != party.identity:
        found.append(
            _refusal(
                f"the inspection authority {authority.strip()!r} is not the sender {party.identity!r}",
                content.find("ir:inspectionAuthority/cm:code", namespaces=ns),
            )
        )
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
        others = [item for item in others if party.identity not in listing_ministries(connection, item[2])]
    for position, line, hs_code in others:
        found.append(
            _refusal(
                f"item {line}: goods with HS code {hs_code} are in the charge of {rules.ministry_for(hs_code) or 'no ministry'}, "
                f"not of {party.identity}",
                content.find(f"ir:items/ir:item[{position}]/ir:hsCode", namespaces=ns),
            )
        )
    return found


def _policy_notice(party: Party, content: etree._Element, connection: Connection, rules: BusinessRules) -> list[Problem]:
    ministry = (content.findtext("pn:ministry/cm:code", namespaces=prefixes(content, "pn")) or "").strip()
    if ministry == party.identity:
        return []
    return [
        _refusal(
            f"the notice is issued by {ministry!r}; {party.identity!r} may only send its own notices",
            content.find("pn:ministry/cm:code", namespaces=prefixes(content, "pn")),
        )
    ]


def _platform_registration(
    party: Party, content: etree._Element, connection: Connection, rules: BusinessRules
) -> list[Problem]:
    if "ministry" in party.roles:
        return []
    operator = operator_of(content)
    if operator != party.identity:
        return [
            _refusal(
                f"{party.identity!r} may only register platforms it operates; the operator named is {operator!r}",
                content.find("pr:operator/cm:id", namespaces=prefixes(content, "pr")),
            )
        ]
    platform_id = (content.findtext("pr:platformId", namespaces=prefixes(content, "pr")) or "").strip()
    current = connection.execute(
        select(platforms.c.operator, platforms.c.status).where(platforms.c.platform_id == platform_id)
    ).first()
    if current is not None and not may_change(
        current.operator, current.status, party.identity, sender_is_ministry=False
    ):
        return [
            _refusal(
                f"platform {platform_id!r} is registered to operator {current.operator!r}",
                content.find("pr:platformId", namespaces=prefixes(content, "pr")),
            )
        ]
    return []


def _refusal(message: str, where: etree._Element | None) -> Problem:
    """NOT_ENTITLED, located at the element that says who is in charge (gateway.locations)."""
    return Problem(ErrorCode.NOT_ENTITLED, message, describe(where) if where is not None else None)


_CHECKS: dict[str, Check] = {
    "INSPECTION_RESULT": _inspection_result,
    "POLICY_NOTICE": _policy_notice,
    "PLATFORM_REGISTRATION": _platform_registration,
}
