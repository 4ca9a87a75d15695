"""Reading the business facts out of verified payloads (orders and declarations), and reading helpers.

The payloads passed schema validation at intake, so required elements exist and
have their types; these functions only pick out what the decisions use. A payload
is read in its own namespace (its definition's, which validation enforced), and
shared elements in the namespace of the common types: no module names a namespace.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from lxml import etree

from gateway.schemas.catalogue import common_namespace
from gateway.xsdtime import parse_zoned


def prefixes(payload: etree._Element, prefix: str) -> dict[str, str]:
    """Prefixes for paths below `payload`: `prefix` for the payload's own namespace, `cm` for the common types."""
    return {prefix: etree.QName(payload).namespace, "cm": common_namespace()}


def optional_text(element: etree._Element, path: str, namespaces: dict[str, str]) -> str | None:
    """The stripped text at `path` below `element`, or None when there is no such element."""
    value = element.findtext(path, namespaces=namespaces)
    return value.strip() if value is not None else None


def required_text(element: etree._Element, path: str, namespaces: dict[str, str]) -> str:
    """The stripped text at `path`; a missing element is a ValueError naming it (the schema requires it)."""
    value = optional_text(element, path, namespaces)
    if value is None:
        raise ValueError(f"{path} is missing from {element.tag}")
    return value


def required_instant(element: etree._Element, path: str, namespaces: dict[str, str]) -> dt.datetime:
    """The instant a zoned xs:dateTime at `path` names, read as XML Schema defines it (24:00:00 is the next
    day's 00:00:00, any number of fraction digits): `datetime.fromisoformat` refuses values the schema accepts."""
    text = required_text(element, path, namespaces)
    moment = parse_zoned(text)
    if moment is None:
        raise ValueError(f"{path} is not a zoned xs:dateTime: {text!r}")
    return moment


def read_order(order: etree._Element) -> dict[str, Any]:
    o = _Reader(order)
    shipping = o.child("shipping")
    return {
        "order_id": o.text("orderId"),
        "platform_id": o.text("platform/p:platformId"),
        "platform_name": o.text("platform/p:name"),
        "platform_url": o.text("platform/p:url"),
        "direction": o.text("direction"),
        "order_date": o.text("orderDate"),
        "items": [
            {
                "line": int(i.text("lineNumber")),
                "description": i.text("description"),
                "hs_code": i.text("hsCode"),
                "quantity": float(i.text("quantity")),
                "unit": i.text("unit"),
                "unit_price": str(Decimal(i.text("unitPrice"))),
                "currency": i.text("currency"),
                "origin": i.text("originCountry"),
            }
            for i in o.children("items/p:item")
        ],
        "total": o.text("totalAmount"),
        "currency": o.text("currency"),
        "transport_mode": shipping.text("transportMode"),
        "border_gate": shipping.text("borderGate"),
        "house_waybill": shipping.text("houseWaybillNumber"),
    }


def read_declaration(declaration: etree._Element) -> dict[str, Any]:
    d = _Reader(declaration)
    return {
        "number": d.text("declarationNumber"),
        "direction": d.text("direction"),
        "declarant": d.text("declarant/cm:id"),
        "customs_office": d.text("customsOffice"),
        "border_gate": d.text("borderGate"),
        "registration_date": d.optional("registrationDate"),
        "orders": [{"order_id": r.text("orderId"), "platform_id": r.text("platformId")} for r in d.children("orders/p:orderRef")],
        "items": [
            {
                "line": int(i.text("lineNumber")),
                "order_id": i.text("orderId"),
                "order_line": int(i.text("orderLine")),
                "description": i.text("description"),
                "hs_code": i.text("hsCode"),
                "quantity": float(i.text("quantity")),
                "unit": i.text("unit"),
                "value_vnd": int(Decimal(i.text("customsValueVND"))),
                "origin": i.text("originCountry"),
                "invoice_value": i.optional("invoiceValue"),
                "currency": i.optional("currency"),
                "licence": i.optional("licenceNumber"),
            }
            for i in d.children("items/p:item")
        ],
        "total_value_vnd": int(Decimal(d.text("totalCustomsValueVND"))),
    }


class _Reader:
    """Reads below one element; a path's first step is in the payload's namespace (more steps say p: or cm:)."""

    def __init__(self, element: etree._Element, namespaces: dict[str, str] | None = None) -> None:
        self.element = element
        self._ns = namespaces or prefixes(element, "p")

    def text(self, path: str) -> str:
        return required_text(self.element, f"p:{path}", self._ns)

    def optional(self, path: str) -> str | None:
        return optional_text(self.element, f"p:{path}", self._ns)

    def child(self, path: str) -> _Reader:
        element = self.element.find(f"p:{path}", namespaces=self._ns)
        if element is None:
            raise ValueError(f"{path} is missing from {self.element.tag}")
        return _Reader(element, self._ns)

    def children(self, path: str) -> list[_Reader]:
        return [_Reader(e, self._ns) for e in self.element.findall(f"p:{path}", namespaces=self._ns)]
