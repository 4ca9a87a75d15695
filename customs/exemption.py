"""The de minimis exemption, item by item (Decision 431/QĐ-TTg).

For each item, in this order:
1. its goods are on a ministry's exception list in force -> INSPECTION_REQUIRED
   by that ministry, whatever the value;
2. its customs value is at most the threshold in force -> EXEMPT;
3. its goods are on a quantity-limited exemption list and the declaration's
   quantity of those goods is within the limit -> EXEMPT;
4. otherwise the ordinary rules apply: a licence presented with the item, or
   no ministry in charge of the goods -> NOT_EXEMPT (no wait); else
   INSPECTION_REQUIRED by the ministry in charge.
Each decision names the rule, and the list entry when a list decided it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from customs.rules import BusinessRules, Threshold

EXCEPTION_RULE = "MINISTRY_EXCEPTION_LIST"
QUANTITY_RULE = "QUANTITY_EXEMPTION_LIST"
ABOVE_THRESHOLD_RULE = "ABOVE_DE_MINIMIS"


class ListEntry(Protocol):
    notice: str
    ministry: str
    entry_id: str
    kind: str  # "exception" | "quantity"
    hs_code: str | None
    hs_prefix: str | None
    max_quantity: float | None
    unit: str | None
    description: str | None
    reason: str | None


@dataclass(frozen=True)
class ItemDecision:
    line: int
    hs_code: str
    value_vnd: int
    exemption: str  # EXEMPT | NOT_EXEMPT | INSPECTION_REQUIRED
    rule: str
    text: str
    list_entry: str | None = None  # "<notice>#<entry id>"
    ministry: str | None = None  # who must inspect, for INSPECTION_REQUIRED

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


def decide_items(
    items: Sequence[dict[str, Any]], entries: Sequence[ListEntry], threshold: Threshold, rules: BusinessRules
) -> list[ItemDecision]:
    exceptions = [e for e in entries if e.kind == "exception"]
    quantities = [e for e in entries if e.kind == "quantity"]
    quantity_by_entry: dict[str, float] = {}
    for item in items:
        entry = _most_specific(quantities, item["hs_code"])
        if entry is not None and _same_unit(entry, item):
            quantity_by_entry[_key(entry)] = quantity_by_entry.get(_key(entry), 0.0) + item["quantity"]
    return [_decide(item, exceptions, quantities, quantity_by_entry, threshold, rules) for item in items]


def _decide(
    item: dict[str, Any],
    exceptions: Sequence[ListEntry],
    quantities: Sequence[ListEntry],
    quantity_by_entry: dict[str, float],
    threshold: Threshold,
    rules: BusinessRules,
) -> ItemDecision:
    line, hs, value = item["line"], item["hs_code"], item["value_vnd"]
    base = {"line": line, "hs_code": hs, "value_vnd": value}
    exception = _most_specific(exceptions, hs)
    if exception is not None:
        return ItemDecision(
            **base,
            exemption="INSPECTION_REQUIRED",
            rule=EXCEPTION_RULE,
            list_entry=_key(exception),
            ministry=exception.ministry,
            text=f"Hàng hóa thuộc danh mục không được miễn theo thông báo {exception.notice} ({exception.ministry}): {exception.reason or exception.description or ''}".strip(),
        )
    if value <= threshold.max_value_vnd:
        return ItemDecision(**base, exemption="EXEMPT", rule=threshold.rule, text=f"Trị giá {_vnd(value)} VND không vượt {_vnd(threshold.max_value_vnd)} VND.")
    quantity = _most_specific(quantities, hs)
    if quantity is not None and _same_unit(quantity, item) and quantity.max_quantity is not None:
        total = quantity_by_entry.get(_key(quantity), 0.0)
        if total <= quantity.max_quantity:
            return ItemDecision(
                **base,
                exemption="EXEMPT",
                rule=QUANTITY_RULE,
                list_entry=_key(quantity),
                text=f"Trị giá vượt ngưỡng nhưng hàng thuộc danh mục miễn theo định lượng ({total:g}/{quantity.max_quantity:g} {quantity.unit or ''}).".replace(" )", ")"),
            )
    over = f"Trị giá {_vnd(value)} VND vượt {_vnd(threshold.max_value_vnd)} VND"
    if item.get("licence"):
        return ItemDecision(**base, exemption="NOT_EXEMPT", rule=ABOVE_THRESHOLD_RULE, text=f"{over}; đã xuất trình giấy phép {item['licence']}.")
    ministry = rules.ministry_for(hs)
    if ministry is None:
        return ItemDecision(**base, exemption="NOT_EXEMPT", rule=ABOVE_THRESHOLD_RULE, text=f"{over}; áp dụng chính sách quản lý thông thường.")
    return ItemDecision(
        **base,
        exemption="INSPECTION_REQUIRED",
        rule=ABOVE_THRESHOLD_RULE,
        ministry=ministry,
        text=f"{over}; phải kiểm tra chuyên ngành ({ministry}) trước khi thông quan.",
    )


def _most_specific(entries: Sequence[ListEntry], hs: str) -> ListEntry | None:
    """The entry naming this exact HS code, else the one with the longest matching prefix."""
    exact = [e for e in entries if e.hs_code and e.hs_code == hs]
    if exact:
        return exact[0]
    prefixed = [e for e in entries if e.hs_prefix and hs.startswith(e.hs_prefix)]
    return max(prefixed, key=lambda e: len(e.hs_prefix or ""), default=None)


def _same_unit(entry: ListEntry, item: dict[str, Any]) -> bool:
    return entry.unit is None or entry.unit == item["unit"]


def _key(entry: ListEntry) -> str:
    return f"{entry.notice}#{entry.entry_id}"


def _vnd(value: int) -> str:
    return f"{value:,}".replace(",", ".")
