"""The de minimis exemption, item by item: the order of the rules and what each decision names."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest

from customs.exemption import decide_items
from customs.rules import business_rules

REPO = Path(__file__).resolve().parents[2]
RULES = business_rules(REPO / "config" / "business.toml")
THRESHOLD = RULES.threshold_on(dt.date(2026, 11, 23))


@dataclass(frozen=True)
class Entry:
    notice: str
    ministry: str
    entry_id: str
    kind: str
    hs_code: str | None = None
    hs_prefix: str | None = None
    max_quantity: float | None = None
    unit: str | None = None
    description: str | None = None
    reason: str | None = None


EXCEPTION = Entry("125/TB-BYT", "BYT", "E1", "exception", hs_prefix="210690", reason="Thực phẩm chức năng")
QUANTITY = Entry("125/TB-BYT", "BYT", "Q1", "quantity", hs_prefix="3304", max_quantity=10, unit="PCE")


def item(line: int, hs: str, value: int, quantity: float = 1, unit: str = "PCE", licence: str | None = None) -> dict:
    return {"line": line, "hs_code": hs, "value_vnd": value, "quantity": quantity, "unit": unit, "licence": licence}


def decide(*items: dict, entries=(EXCEPTION, QUANTITY)):
    return decide_items(items, entries, THRESHOLD, RULES)


@pytest.mark.parametrize(("value", "expected"), [(1_000_000, "EXEMPT"), (1_000_001, "NOT_EXEMPT"), (0, "EXEMPT")])
def test_the_threshold_is_inclusive(value: int, expected: str) -> None:
    (decision,) = decide(item(1, "62014090", value))

    assert decision.exemption == expected
    assert decision.rule == ("DE_MINIMIS_1M" if expected == "EXEMPT" else "ABOVE_DE_MINIMIS")
    assert decision.list_entry is None


def test_an_exception_listed_item_needs_inspection_whatever_its_value() -> None:
    (decision,) = decide(item(4, "21069072", 946_800))

    assert decision.exemption == "INSPECTION_REQUIRED"
    assert (decision.rule, decision.list_entry, decision.ministry) == ("MINISTRY_EXCEPTION_LIST", "125/TB-BYT#E1", "BYT")


def test_above_the_threshold_a_quantity_listed_item_is_exempt_within_the_quantity() -> None:
    within = decide(item(1, "33041000", 2_000_000, quantity=4), item(2, "33049930", 1_500_000, quantity=6))
    beyond = decide(item(1, "33041000", 2_000_000, quantity=4), item(2, "33049930", 1_500_000, quantity=7))

    assert [(d.exemption, d.rule, d.list_entry) for d in within] == [("EXEMPT", "QUANTITY_EXEMPTION_LIST", "125/TB-BYT#Q1")] * 2
    assert [d.exemption for d in beyond] == ["INSPECTION_REQUIRED"] * 2  # BYT is in charge of 3304
    assert all(d.ministry == "BYT" for d in beyond)


def test_a_quantity_entry_in_another_unit_does_not_apply() -> None:
    (decision,) = decide(item(1, "33041000", 2_000_000, quantity=1, unit="KGM"))

    assert decision.rule == "ABOVE_DE_MINIMIS"


def test_above_the_threshold_the_ministry_in_charge_inspects_unless_a_licence_is_presented() -> None:
    inspected, licensed, ordinary = decide(
        item(1, "85183090", 1_207_170), item(2, "85183090", 1_207_170, licence="LIC-1"), item(3, "62014090", 1_500_000)
    )

    assert (inspected.exemption, inspected.ministry) == ("INSPECTION_REQUIRED", "BCT")
    assert (licensed.exemption, licensed.ministry) == ("NOT_EXEMPT", None) and "LIC-1" in licensed.text
    assert (ordinary.exemption, ordinary.ministry) == ("NOT_EXEMPT", None)


def test_an_exact_hs_code_entry_beats_a_prefix() -> None:
    exact = Entry("9/TB-BCT", "BCT", "X", "exception", hs_code="21069072")

    (decision,) = decide(item(1, "21069072", 10), entries=(EXCEPTION, exact))

    assert (decision.list_entry, decision.ministry) == ("9/TB-BCT#X", "BCT")


def test_without_lists_a_low_value_item_is_exempt() -> None:
    (decision,) = decide(item(1, "21069072", 10), entries=())

    assert decision.exemption == "EXEMPT" and "10 VND" in decision.text
