"""Deciding a declaration: match its orders, decide each item's exemption, select its lane, tell everyone.

One decision is one row in `decisions` whose record holds everything it was
based on (rule and profile versions, findings, the list entries applied, the
seed and every draw), so it can be explained to an officer and replayed. A
decision is never recomputed when rules or lists change later; an amendment of
the declaration makes a new decision.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import structlog
from sqlalchemy import Connection, delete, insert, select, update

from customs.alerts import raise_alert
from customs.context import Context
from customs.exemption import decide_items
from customs.inspection import conclude
from customs.matching import MISMATCH_CODES, Finding, match_orders
from customs.notices.lane import lane_notice
from customs.orderbook import winning_orders
from customs.platforms import platform_standing
from customs.policy import entries_in_force
from customs.risk import RiskFacts, assess
from customs.sharing import share
from customs.state import DeclarationStatus, InspectionStatus, decisions, declarations, inspections
from gateway import xmlsafe
from gateway.envelope import content_element
from gateway.outbound.compose import Subject
from gateway.store.tables import messages

log = structlog.get_logger(__name__)


def decide_if_complete(context: Context, number: str) -> bool:
    """Decide a waiting declaration when every order it refers to has arrived; returns whether it was decided."""
    row = _declaration(context.tx, number)
    keys = [(ref["platform_id"], ref["order_id"]) for ref in row["facts"]["orders"]]
    if any(order is None for order in winning_orders(context.tx, keys).values()):
        return False
    decide(context, number)
    return True


def decide_overdue(context: Context) -> int:
    """Timer task: decide, on what is known, the declarations that waited for their orders long enough."""
    overdue = context.tx.execute(
        select(declarations.c.number)
        .where(declarations.c.status == DeclarationStatus.WAITING_ORDERS.value, declarations.c.wait_until <= context.now)
        .order_by(declarations.c.wait_until)
        .limit(100)
    ).scalars()
    numbers = list(overdue)
    for number in numbers:
        decide(context, number)
    return len(numbers)


def decide(context: Context, number: str) -> dict[str, Any]:
    """Take (and record, notify, share, alert) the decision on one declaration; returns its record."""
    tx, now = context.tx, context.now
    rules = context.rules.business
    risk = context.rules.risk
    row = _declaration(tx, number)
    facts = row["facts"]
    keys = [(ref["platform_id"], ref["order_id"]) for ref in facts["orders"]]
    orders = winning_orders(tx, keys)
    findings = match_orders(facts, orders, rules) + _platform_findings(tx, {k[0] for k in keys}, now)
    local_day = now.astimezone(zoneinfo.ZoneInfo(rules.calendar.timezone)).date()
    threshold = rules.threshold_on(local_day)
    if threshold is None:
        raise RuntimeError(f"no de minimis threshold in force on {local_day}; check business.toml [exemption]")
    items = [d.as_record() for d in decide_items(facts["items"], entries_in_force(tx, now), threshold, rules)]
    assessment = assess(_risk_facts(row, orders, findings, risk.compliance_of(row["declarant"])), risk, local_day)
    record = {
        "rules_version": rules.version,
        "risk_version": risk.version,
        "decided_at": now.isoformat(),
        "findings": [f.as_record() for f in findings],
        "items": items,
        "seed": assessment.seed,
        "profiles": list(assessment.profiles),
        "random": assessment.random,
        "lane": assessment.lane,
    }
    results = _require_inspections(tx, number, items)
    awaited = InspectionStatus.REQUIRED.value in results
    status = DeclarationStatus.AWAITING_INSPECTION if awaited else DeclarationStatus.DECIDED
    tx.execute(
        update(declarations)
        .where(declarations.c.number == number)
        .values(lane=assessment.lane, status=status.value, decided_at=now, wait_until=None, updated_at=now)
    )
    decision_id = tx.execute(insert(decisions).values(declaration=number, decided_at=now, lane=assessment.lane, record=record).returning(decisions.c.id)).scalar_one()
    notice = lane_notice(number, assessment.lane, now, _reasons(assessment, items), items)
    declaration_message = _message(tx, row["message"])
    sent = context.emit(row["declarant"], Subject("LANE_NOTICE", "26", number, declaration_message["message_id"]), notice)
    tx.execute(update(decisions).where(decisions.c.id == decision_id).values(notice=sent.message_id))
    ministries = frozenset(i["ministry"] for i in items if i["exemption"] == "INSPECTION_REQUIRED" and i["ministry"])
    share(context, "ECOM_DECLARATION", declaration_message["function"], _payload(declaration_message["body"]), reference=number, pre_reference=declaration_message["message_id"], inspecting_ministries=ministries)
    share(context, "LANE_NOTICE", "26", notice, reference=number, pre_reference=None)
    _alert(context, number, row["declarant"], assessment.profiles)
    if results and not awaited:  # an amendment whose inspections were all answered before it
        conclude(context, tx.execute(select(declarations).where(declarations.c.number == number)).one())
    log.info("declaration decided", declaration=number, lane=assessment.lane, status=status.value, findings=len(findings), profiles=[p["id"] for p in assessment.selected()])
    return record


def _declaration(tx: Connection, number: str) -> dict[str, Any]:
    row = tx.execute(select(declarations).where(declarations.c.number == number)).one()
    return dict(row._mapping)


def _message(tx: Connection, pk: int) -> dict[str, Any]:
    row = tx.execute(select(messages.c.message_id, messages.c.function, messages.c.body).where(messages.c.id == pk)).one()
    return dict(row._mapping)


def _payload(body: bytes):  # type: ignore[no-untyped-def]
    return content_element(xmlsafe.without_comments(xmlsafe.parse(body)))


def _platform_findings(tx: Connection, platform_ids: set[str], now: dt.datetime) -> list[Finding]:
    findings = []
    for platform_id in sorted(platform_ids):
        standing = platform_standing(tx, platform_id, now)
        if standing is None:
            findings.append(Finding("PLATFORM_NOT_REGISTERED", f"Sàn/website {platform_id} chưa đăng ký với cơ quan hải quan."))
        elif standing != "ACTIVE":
            findings.append(Finding("PLATFORM_SUSPENDED", f"Sàn/website {platform_id} đang ở trạng thái {standing}."))
    return findings


def _risk_facts(row: dict[str, Any], orders: dict, findings: list[Finding], compliance: str) -> RiskFacts:
    facts = row["facts"]
    known = [o for o in orders.values() if o is not None]
    return RiskFacts(
        direction=row["direction"],
        declarant=row["declarant"],
        compliance=compliance,
        total_value_vnd=row["total_value_vnd"],
        border_gate=facts["border_gate"],
        items=tuple({k: item[k] for k in ("hs_code", "origin", "value_vnd", "quantity")} for item in facts["items"]),
        platforms=frozenset(ref["platform_id"] for ref in facts["orders"]),
        transport_modes=frozenset(o["facts"]["transport_mode"] for o in known),
        platform_not_registered=any(f.code in ("PLATFORM_NOT_REGISTERED", "PLATFORM_SUSPENDED") for f in findings),
        mismatch=any(f.code in MISMATCH_CODES for f in findings),
    )


def _require_inspections(tx: Connection, number: str, items: list[dict[str, Any]]) -> set[str]:
    """One inspection row per item that needs it; a result already given for the same line and goods
    stays (an amendment does not ask for it again). Returns the statuses of the rows, required or answered."""
    needed = {i["line"]: i for i in items if i["exemption"] == "INSPECTION_REQUIRED"}
    kept: dict[int, str] = {}
    for row in tx.execute(select(inspections).where(inspections.c.declaration == number)).all():
        if row.line in needed and row.hs_code == needed[row.line]["hs_code"]:
            kept[row.line] = row.status
        else:
            tx.execute(delete(inspections).where(inspections.c.id == row.id))
    for line, item in needed.items():
        if line not in kept:
            tx.execute(
                insert(inspections).values(
                    declaration=number, line=line, hs_code=item["hs_code"], ministry=item["ministry"], status=InspectionStatus.REQUIRED.value
                )
            )
            kept[line] = InspectionStatus.REQUIRED.value
    return set(kept.values())


def _reasons(assessment: Any, items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    reasons = [(p["id"], p["reason"]) for p in assessment.selected()]
    if assessment.random["selected"]:
        reasons.append(("RANDOM_SELECTION", assessment.random["reason"]))
    for item in items:
        if item["exemption"] != "EXEMPT":
            reasons.append((item["rule"], f"Dòng hàng {item['line']}: {item['text']}"))
    return reasons


def _alert(context: Context, number: str, declarant: str, profiles: tuple[dict[str, Any], ...]) -> None:
    fired = [p for p in profiles if p["alert"]]
    if fired:
        raise_alert(
            context,
            kind="RISK_PROFILE",
            severity="HIGH" if any(p["lane"] == "RED" for p in fired) else "MEDIUM",
            reasons=[(p["id"], f"{p['reason']} Hướng dẫn: {p['instructions']}") for p in fired],
            declaration=number,
            party=declarant,
        )
