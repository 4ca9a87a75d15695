"""ECOM_DECLARATION: simplified declarations, from declare (01) through amend (02) or cancel (03).

A declaration is decided (customs.decisions) as soon as every order it refers
to is in the order book; otherwise it waits, at most `wait_for_orders_s`, after
which the `decide_overdue` timer decides it on what is known (the missing
orders are findings). An amendment replaces the declared facts and, once
decided, is decided again; a cancellation is confirmed with a RESULT_NOTICE
(function 24). Only the party that declared may amend or cancel.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import delete, insert, select, update

from customs.context import Context
from customs.decisions import decide_if_complete
from customs.documents import read_declaration
from customs.notices.result import FUNCTION_OF_OUTCOME, result_notice
from customs.state import DeclarationStatus, declaration_orders, declarations
from gateway.inbound import InboundMessage
from gateway.outbound.compose import Subject

log = structlog.get_logger(__name__)

FINAL = (DeclarationStatus.COMPLETED.value, DeclarationStatus.REJECTED.value, DeclarationStatus.CANCELLED.value)


def receive(message: InboundMessage, context: Context) -> str:
    assert message.content is not None
    facts = read_declaration(message.content)
    number, sender = facts["number"], message.header.sender.identity
    existing = context.tx.execute(select(declarations).where(declarations.c.number == number)).first()
    if existing is not None and existing.declarant != sender:
        return _refuse(context, message, number, f"Tờ khai {number} do bên khác khai báo; chỉ người khai mới được sửa hoặc hủy.")
    if existing is not None and existing.status in FINAL:
        return _refuse(context, message, number, f"Tờ khai {number} đã kết thúc ({existing.status}); không thể sửa hoặc hủy.")
    if message.header.function == "03":
        if existing is None:
            return _refuse(context, message, number, f"Không có tờ khai {number} để hủy.")
        return _cancel(context, message, number)
    _store(context, message, facts, is_new=existing is None)
    if decide_if_complete(context, number):
        return f"declaration {number} decided"
    wait = context.rules.business.wait_for_orders
    context.tx.execute(update(declarations).where(declarations.c.number == number).values(wait_until=context.now + wait))
    return f"declaration {number} waits for its orders until {(context.now + wait).isoformat()}"


def _store(context: Context, message: InboundMessage, facts: dict[str, Any], is_new: bool) -> None:
    number = facts["number"]
    values = {
        "direction": facts["direction"],
        "status": DeclarationStatus.WAITING_ORDERS.value,
        "facts": facts,
        "message": message.stored.pk,
        "correlation_id": message.stored.correlation_id,
        "total_value_vnd": facts["total_value_vnd"],
        "updated_at": context.now,
    }
    if is_new:
        context.tx.execute(insert(declarations).values(number=number, declarant=message.header.sender.identity, received_at=context.now, **values))
    else:
        context.tx.execute(update(declarations).where(declarations.c.number == number).values(**values))
    context.tx.execute(delete(declaration_orders).where(declaration_orders.c.declaration == number))
    links = {(ref["platform_id"], ref["order_id"]) for ref in facts["orders"]}
    for platform_id, order_id in sorted(links):
        context.tx.execute(insert(declaration_orders).values(declaration=number, platform_id=platform_id, order_id=order_id))


def _cancel(context: Context, message: InboundMessage, number: str) -> str:
    context.tx.execute(
        update(declarations)
        .where(declarations.c.number == number)
        .values(status=DeclarationStatus.CANCELLED.value, message=message.stored.pk, wait_until=None, updated_at=context.now)
    )
    notice = result_notice(number, "CANCELLED", context.now, [], "Tờ khai đã được hủy theo đề nghị của người khai.")
    function = FUNCTION_OF_OUTCOME["CANCELLED"]
    context.emit(message.header.sender.identity, Subject("RESULT_NOTICE", function, number, message.header.message_id), notice)
    log.info("declaration cancelled", declaration=number)
    return f"declaration {number} cancelled"


def _refuse(context: Context, message: InboundMessage, number: str, why: str) -> str:
    """A business refusal: nothing changes, and the sender gets a signed RESULT_NOTICE saying why."""
    notice = result_notice(number, "REJECTED", context.now, [], why)
    function = FUNCTION_OF_OUTCOME["REJECTED"]
    context.emit(message.header.sender.identity, Subject("RESULT_NOTICE", function, number, message.header.message_id), notice)
    log.warning("declaration message refused", declaration=number, reason=why)
    return f"declaration {number}: refused ({why})"

