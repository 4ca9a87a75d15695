"""INSPECTION_RESULT: a ministry's specialised-inspection results, applied to the items that await them.

Who may send it is settled at intake (customs/entitlement.py: only the ministry
in charge of the goods). Here each item of the result is matched with the
declaration's inspection row (one per item that needed inspection, made when the
declaration was decided) and recorded on it: pass or fail, certificate, the
ministry's reason and conditions, when the result was issued and when intake
received it (the stored message's reception time, not when a worker got to it),
and the working hours in between (customs/calendar.py). A result received more
than `[inspection] deadline_working_hours` after it was issued is flagged late
on the rows it updates (which the report counts) and raises a
LATE_INSPECTION_RESULT alert (once per declaration and ministry); it is applied
all the same.

Then, while the declaration awaits inspection:
- one failed item rejects it: status rejected and a RESULT_NOTICE REJECTED
  (function 26, a decision) naming each failed item and why;
- every inspected item passed: status completed and a RESULT_NOTICE COMPLETED
  (function 23) clearing every item, the inspected ones with their certificate.
Either notice goes to the declarant and, as a copy, to the RESULT_NOTICE
subscribers (customs.sharing). Once the declaration has its outcome no other
notice follows, so two results never emit twice.

Several results for the same item: the one issued last counts. A result issued
earlier than the one recorded is ignored (messages may arrive out of order); a
later one replaces it while the declaration awaits inspection (a ministry
correcting itself, function 02). After the outcome was notified a differing
result is not applied, since it would contradict the notice: it raises an
INSPECTION_RESULT_UNMATCHED alert instead, for an officer to act on.

A result that matches nothing is kept (the message is in the store) but not
applied, and raises the same alert with the reason: an unknown declaration, an
item that needs no inspection, an item awaited from another ministry, or an HS
code that differs from the declared one. Nothing is made up for a later decision
to find: a declaration is only known once it is registered, and a result for
goods it does not name cannot be trusted to be about them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, NamedTuple

import structlog
from lxml import etree
from sqlalchemy import Connection, select, update

from customs.alerts import raise_alert
from customs.calendar import working_hours_between
from customs.context import Context
from customs.documents import optional_text, prefixes, required_instant, required_text
from customs.notices.result import FUNCTION_OF_OUTCOME, NoticeItem, result_notice
from customs.sharing import share
from customs.state import DeclarationStatus, InspectionStatus, declarations, inspections
from customs.timestamps import as_utc, as_utc_or_none
from gateway.inbound import InboundMessage
from gateway.outbound.compose import Subject
from gateway.store.tables import messages

log = structlog.get_logger(__name__)

LATE = "LATE_INSPECTION_RESULT"
UNMATCHED = "INSPECTION_RESULT_UNMATCHED"


@dataclass(frozen=True)
class ItemResult:
    line: int
    hs_code: str
    passed: bool
    reason: str | None
    conditions: str | None

    @property
    def status(self) -> str:
        return InspectionStatus.PASS.value if self.passed else InspectionStatus.FAIL.value

    @property
    def note(self) -> str | None:
        """The ministry's words on the item, as kept on its row: its reason, then the conditions of a pass."""
        parts = [self.reason, f"Điều kiện: {self.conditions}" if self.conditions else None]
        return " ".join(p for p in parts if p) or None


@dataclass(frozen=True)
class InspectionResult:
    declaration: str
    certificate: str
    issued_at: dt.datetime
    items: tuple[ItemResult, ...]


def read_result(content: etree._Element) -> InspectionResult:
    ns = prefixes(content, "ir")
    return InspectionResult(
        declaration=required_text(content, "ir:declarationNumber", ns),
        certificate=required_text(content, "ir:inspectionCertificateNumber", ns),
        issued_at=required_instant(content, "ir:issuedAt", ns),
        items=tuple(
            ItemResult(
                line=int(required_text(item, "ir:lineNumber", ns)),
                hs_code=required_text(item, "ir:hsCode", ns),
                passed=required_text(item, "ir:result", ns) == "PASS",
                reason=optional_text(item, "ir:reason", ns),
                conditions=optional_text(item, "ir:conditions", ns),
            )
            for item in content.iterfind("ir:items/ir:item", ns)
        ),
    )


def receive(message: InboundMessage, context: Context) -> str:
    assert message.content is not None
    result = read_result(message.content)
    ministry = message.header.sender.identity
    rules = context.rules.business
    received_at = _received_at(context.tx, message.stored.pk)
    hours = working_hours_between(result.issued_at, received_at, rules.calendar)
    late = hours > rules.deadline_working_hours
    bound = log.bind(
        declaration=result.declaration,
        ministry=ministry,
        message_id=message.stored.message_id,
        correlation_id=context.correlation_id,
    )
    # Locked, so that two results for one declaration are applied one after the other (PostgreSQL;
    # SQLite writers are serialised anyway): each then sees the other's rows when judging the outcome.
    declaration = context.tx.execute(
        select(declarations).where(declarations.c.number == result.declaration).with_for_update()
    ).first()
    if declaration is None:
        text = f"Kết quả kiểm tra chuyên ngành số {result.certificate} của {ministry} cho tờ khai {result.declaration} chưa đăng ký trên hệ thống."
        _unmatched(context, result.declaration, ministry, [Refusal("UNKNOWN_DECLARATION", text)])
        bound.warning("inspection result for an unknown declaration")
        return f"inspection result {result.certificate} from {ministry}: declaration {result.declaration} unknown; not applied"
    awaiting = declaration.status == DeclarationStatus.AWAITING_INSPECTION.value
    rows = {
        row.line: row
        for row in context.tx.execute(select(inspections).where(inspections.c.declaration == result.declaration))
    }
    applied: list[ItemResult] = []
    refused: list[Refusal] = []
    for item in result.items:
        verdict = _verdict(rows.get(item.line), item, ministry, result, awaiting)
        if verdict == APPLY:
            _apply(context.tx, rows[item.line].id, item, result, received_at, hours, late, message.stored.pk)
            applied.append(item)
        elif isinstance(verdict, Refusal):
            refused.append(verdict)
    if refused:
        _unmatched(context, result.declaration, ministry, refused)
    if late and applied:
        _late(context, result, ministry, hours, rules.deadline_working_hours)
    outcome = conclude(context, declaration) if awaiting and applied else None
    bound.info(
        "inspection result recorded",
        applied=[i.line for i in applied],
        refused=[code for code, _ in refused],
        working_hours=round(hours, 2),
        late=late,
        outcome=outcome,
    )
    summary = f"inspection result {result.certificate} from {ministry} for {result.declaration}: {len(applied)} item(s) applied"
    return (
        summary
        + (f", {len(refused)} not applied" if refused else "")
        + (f"; late ({hours:.2f} working hours)" if late else "")
        + (f"; declaration {outcome}" if outcome else "")
    )


APPLY, IGNORE = "apply", "ignore"


class Refusal(NamedTuple):
    """Why an item's result is not applied: a reason code and a plain-language text (for the alert)."""

    code: str
    text: str


def _verdict(row: Any, item: ItemResult, ministry: str, result: InspectionResult, awaiting: bool) -> str | Refusal:
    """APPLY the item's result to its row, IGNORE it (already superseded or repeated), or a Refusal."""
    where = f"Dòng hàng {item.line} của tờ khai {result.declaration}"
    if row is None:
        return Refusal(
            "NOT_AWAITED", f"{where} không chờ kết quả kiểm tra chuyên ngành (kết quả số {result.certificate})."
        )
    if row.ministry != ministry:
        return Refusal(
            "AWAITED_FROM_OTHER_MINISTRY", f"{where} chờ kết quả của {row.ministry}, không phải của {ministry}."
        )
    if row.hs_code != item.hs_code:
        return Refusal(
            "HS_CODE_DIFFERS",
            f"{where} khai mã HS {row.hs_code}; kết quả số {result.certificate} ghi mã {item.hs_code}.",
        )
    if row.status == InspectionStatus.REQUIRED.value:
        return APPLY
    recorded_issue = as_utc_or_none(row.issued_at)
    if recorded_issue is not None and recorded_issue >= as_utc(result.issued_at):
        return IGNORE  # a result issued no later is already recorded
    if awaiting:
        return APPLY
    if row.status == item.status:
        return IGNORE
    return Refusal(
        "RESULT_AFTER_OUTCOME",
        f"{where} đã có kết quả {row.status.upper()} (số {row.certificate}) và tờ khai đã có kết quả xử lý; "
        f"kết quả mới {item.status.upper()} (số {result.certificate}) không được áp dụng.",
    )


def _apply(
    tx: Connection,
    row_id: int,
    item: ItemResult,
    result: InspectionResult,
    received_at: dt.datetime,
    hours: float,
    late: bool,
    message: int,
) -> None:
    tx.execute(
        update(inspections)
        .where(inspections.c.id == row_id)
        .values(
            status=item.status,
            certificate=result.certificate,
            reason=item.note,
            issued_at=as_utc(result.issued_at),
            received_at=received_at,
            working_hours=hours,
            late=late,
            message=message,
        )
    )


def conclude(context: Context, declaration: Any) -> str | None:
    """Reject or complete the declaration when its inspection rows allow; returns the new status, if any."""
    number = declaration.number
    rows = list(
        context.tx.execute(select(inspections).where(inspections.c.declaration == number).order_by(inspections.c.line))
    )
    failed = [row for row in rows if row.status == InspectionStatus.FAIL.value]
    if failed:
        items = [NoticeItem(row.line, "REJECTED", _failure(row)) for row in failed]
        lines = ", ".join(str(row.line) for row in failed)
        text = f"Tờ khai không được thông quan: dòng hàng {lines} không đạt kiểm tra chuyên ngành."
        return _notify(context, declaration, DeclarationStatus.REJECTED, "REJECTED", items, text)
    if all(row.status == InspectionStatus.PASS.value for row in rows):
        passed = {row.line: row for row in rows}
        items = [
            NoticeItem(item["line"], "CLEARED", _clearance(passed[item["line"]]) if item["line"] in passed else None)
            for item in declaration.facts["items"]
        ]
        return _notify(
            context, declaration, DeclarationStatus.COMPLETED, "COMPLETED", items, "Tờ khai đã được thông quan."
        )
    return None


def _notify(
    context: Context,
    declaration: Any,
    status: DeclarationStatus,
    outcome: str,
    items: list[NoticeItem],
    text: str,
) -> str:
    number, now = declaration.number, context.now
    context.tx.execute(
        update(declarations).where(declarations.c.number == number).values(status=status.value, updated_at=now)
    )
    notice = result_notice(number, outcome, now, items, text)
    function = FUNCTION_OF_OUTCOME[outcome]
    original = context.tx.execute(
        select(messages.c.message_id).where(messages.c.id == declaration.message)
    ).scalar_one()
    sent = context.emit(declaration.declarant, Subject("RESULT_NOTICE", function, number, original), notice)
    share(context, "RESULT_NOTICE", function, notice, reference=number, pre_reference=sent.message_id)
    log.info(
        "result notice sent",
        declaration=number,
        outcome=outcome,
        notice=sent.message_id,
        correlation_id=context.correlation_id,
    )
    return status.value


def _failure(row: Any) -> str:
    return f"Không đạt kiểm tra chuyên ngành ({row.ministry}, kết quả số {row.certificate}): {row.reason or 'không nêu lý do'}."


def _clearance(row: Any) -> str:
    conditions = f" {row.reason}" if row.reason else ""
    return f"Đạt kiểm tra chuyên ngành ({row.ministry}, kết quả số {row.certificate}).{conditions}"


def _late(context: Context, result: InspectionResult, ministry: str, hours: float, deadline: float) -> None:
    text = (
        f"Kết quả kiểm tra chuyên ngành số {result.certificate} của {ministry} cho tờ khai {result.declaration} "
        f"đến sau {hours:.2f} giờ làm việc kể từ khi ban hành, quá thời hạn {deadline:g} giờ làm việc."
    )
    raise_alert(
        context,
        kind=LATE,
        severity="MEDIUM",
        reasons=[("INSPECTION_RESULT_LATE", text)],
        declaration=result.declaration,
        party=ministry,
        metrics={"WORKING_HOURS_ELAPSED": round(hours, 6), "DEADLINE_WORKING_HOURS": deadline},
    )


def _unmatched(context: Context, number: str, ministry: str, refusals: list[Refusal]) -> None:
    reasons = [(refusal.code, refusal.text) for refusal in refusals]
    raise_alert(context, kind=UNMATCHED, severity="LOW", reasons=reasons, declaration=number, party=ministry)


def _received_at(tx: Connection, pk: int) -> dt.datetime:
    """When intake received the message: the deadline is judged on arrival, not on processing."""
    return as_utc(tx.execute(select(messages.c.received_at).where(messages.c.id == pk)).scalar_one())
