"""Matching a declaration against the orders it refers to.

Every difference is a finding: the risk engine decides what a finding costs
(profiles with the `mismatch` or `platform_not_registered` condition), this
module only states what differs, where, and by how much.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from customs.rules import BusinessRules

# Findings that mean "the declaration does not say what the order says".
MISMATCH_CODES = frozenset(
    {"ORDER_MISSING", "ORDER_CANCELLED", "ORDER_LINE_MISSING", "HS_CODE_MISMATCH", "QUANTITY_MISMATCH", "VALUE_MISMATCH"}
)
PLATFORM_CODES = frozenset({"PLATFORM_NOT_REGISTERED", "PLATFORM_SUSPENDED"})


@dataclass(frozen=True)
class Finding:
    code: str
    text: str
    line: int | None = None
    order_id: str | None = None

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


def match_orders(
    declaration: dict[str, Any], orders: dict[tuple[str, str], dict[str, Any] | None], rules: BusinessRules
) -> list[Finding]:
    """Findings for `declaration` given the winning version of each referenced order (None: never received)."""
    findings: list[Finding] = []
    for ref in declaration["orders"]:
        order = orders.get((ref["platform_id"], ref["order_id"]))
        if order is None:
            findings.append(Finding("ORDER_MISSING", f"Đơn hàng {ref['order_id']} ({ref['platform_id']}) chưa được gửi đến hệ thống.", order_id=ref["order_id"]))
        elif order["status"] == "cancelled":
            findings.append(Finding("ORDER_CANCELLED", f"Đơn hàng {ref['order_id']} đã bị hủy.", order_id=ref["order_id"]))
    by_order = {key[1]: order for key, order in orders.items() if order is not None and order["status"] != "cancelled"}
    for item in declaration["items"]:
        order = by_order.get(item["order_id"])
        if order is None:
            continue  # already a finding at order level
        line = next((i for i in order["facts"]["items"] if i["line"] == item["order_line"]), None)
        if line is None:
            findings.append(Finding("ORDER_LINE_MISSING", f"Dòng hàng {item['line']}: đơn hàng {item['order_id']} không có dòng {item['order_line']}.", item["line"], item["order_id"]))
            continue
        findings.extend(_compare_line(item, line, rules))
    return findings


def _compare_line(item: dict[str, Any], line: dict[str, Any], rules: BusinessRules) -> list[Finding]:
    found = []
    declared_hs, ordered_hs = item["hs_code"], line["hs_code"]
    if not (declared_hs.startswith(ordered_hs) or ordered_hs.startswith(declared_hs)):
        found.append(Finding("HS_CODE_MISMATCH", f"Dòng hàng {item['line']}: mã HS khai báo {declared_hs} khác mã HS trên đơn hàng {ordered_hs}.", item["line"], item["order_id"]))
    if abs(item["quantity"] - line["quantity"]) > rules.quantity_tolerance:
        found.append(Finding("QUANTITY_MISMATCH", f"Dòng hàng {item['line']}: số lượng khai báo {item['quantity']:g} khác số lượng trên đơn hàng {line['quantity']:g}.", item["line"], item["order_id"]))
    if item["invoice_value"] is not None and item["currency"] == line["currency"]:
        ordered = Decimal(line["unit_price"]) * Decimal(str(line["quantity"]))
        declared = Decimal(item["invoice_value"])
        if ordered > 0 and abs(declared - ordered) / ordered * 100 > Decimal(str(rules.value_tolerance_percent)):
            found.append(Finding("VALUE_MISMATCH", f"Dòng hàng {item['line']}: trị giá khai báo {declared} {item['currency']} khác trị giá đơn hàng {ordered} {line['currency']}.", item["line"], item["order_id"]))
    return found
