"""Matching a declaration with its orders: each difference is a finding, within the configured tolerances."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

from conformance import SAMPLES_DIR
from customs.documents import read_declaration, read_order
from customs.matching import match_orders
from customs.rules import business_rules
from gateway import xmlsafe
from gateway.envelope import content_element

REPO = Path(__file__).resolve().parents[2]
RULES = business_rules(REPO / "config" / "business.toml")
ORDER = read_order(content_element(xmlsafe.parse((SAMPLES_DIR / "ECOM_ORDER.xml").read_bytes())))
DECLARATION = read_declaration(content_element(xmlsafe.parse((SAMPLES_DIR / "ECOM_DECLARATION.xml").read_bytes())))
KEY = ("VIETSHOP", "VS-260309-0091847")


def orders(status: str = "active", facts: dict | None = None) -> dict:
    return {KEY: {"status": status, "facts": facts or ORDER}}


def codes(declaration: dict, book: dict, rules=RULES) -> list[tuple[str, int | None]]:
    return [(f.code, f.line) for f in match_orders(declaration, book, rules)]


def test_the_sample_declaration_matches_its_order() -> None:
    assert codes(DECLARATION, orders()) == []


def test_a_missing_or_cancelled_order_is_a_finding() -> None:
    assert codes(DECLARATION, {KEY: None}) == [("ORDER_MISSING", None)]
    assert codes(DECLARATION, orders("cancelled")) == [("ORDER_CANCELLED", None)]


def test_hs_code_quantity_and_value_differences_are_findings_naming_the_line() -> None:
    declared = copy.deepcopy(DECLARATION)
    declared["items"][0]["hs_code"] = "39241090"  # order: 39269099
    declared["items"][1]["quantity"] = 2.0  # order: 1
    declared["items"][4]["invoice_value"] = "40.00"  # order: 32.00 USD

    assert codes(declared, orders()) == [("HS_CODE_MISMATCH", 1), ("QUANTITY_MISMATCH", 2), ("VALUE_MISMATCH", 5)]


def test_a_more_detailed_hs_code_is_not_a_mismatch() -> None:
    order = copy.deepcopy(ORDER)
    order["items"][0]["hs_code"] = "392690"

    assert codes(DECLARATION, orders(facts=order)) == []


def test_differences_within_tolerance_are_not_findings() -> None:
    declared = copy.deepcopy(DECLARATION)
    declared["items"][4]["invoice_value"] = "32.60"  # +1.9 %, tolerance 2 %
    declared["items"][1]["quantity"] = 1.5

    assert codes(declared, orders(), replace(RULES, quantity_tolerance=0.5)) == []
    assert codes(declared, orders()) == [("QUANTITY_MISMATCH", 2)]


def test_a_line_the_order_does_not_have_is_a_finding() -> None:
    declared = copy.deepcopy(DECLARATION)
    declared["items"][5]["order_line"] = 9

    assert codes(declared, orders()) == [("ORDER_LINE_MISSING", 6)]
