"""Reading the business facts out of verified payloads (orders and declarations).

The payloads passed schema validation at intake, so required elements exist and
have their types; these functions only pick out what the decisions use.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from lxml import etree

COMMON_NS = "urn:customs.gov.vn:ecom:common:1"
ORDER_NS = "urn:customs.gov.vn:ecom:order:1"
DECLARATION_NS = "urn:customs.gov.vn:ecom:declaration:1"
INSPECTION_NS = "urn:customs.gov.vn:ecom:inspection-result:1"
PLATFORM_NS = "urn:customs.gov.vn:ecom:platform-registration:1"
POLICY_NS = "urn:customs.gov.vn:ecom:policy-notice:1"


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


def read_order(order: etree._Element) -> dict[str, Any]:
    o = _Reader(order, ORDER_NS)
    shipping = o.child("shipping")
    return {
        "order_id": o.text("orderId"),
        "platform_id": o.text("platform/o:platformId"),
        "platform_name": o.text("platform/o:name"),
        "platform_url": o.text("platform/o:url"),
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
            for i in o.children("items/o:item")
        ],
        "total": o.text("totalAmount"),
        "currency": o.text("currency"),
        "transport_mode": shipping.text("transportMode"),
        "border_gate": shipping.text("borderGate"),
        "house_waybill": shipping.text("houseWaybillNumber"),
    }


def read_declaration(declaration: etree._Element) -> dict[str, Any]:
    d = _Reader(declaration, DECLARATION_NS)
    return {
        "number": d.text("declarationNumber"),
        "direction": d.text("direction"),
        "declarant": declaration.findtext(f"{{{DECLARATION_NS}}}declarant/{{{COMMON_NS}}}id"),
        "customs_office": d.text("customsOffice"),
        "border_gate": d.text("borderGate"),
        "registration_date": d.optional("registrationDate"),
        "orders": [{"order_id": r.text("orderId"), "platform_id": r.text("platformId")} for r in d.children("orders/d:orderRef")],
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
            for i in d.children("items/d:item")
        ],
        "total_value_vnd": int(Decimal(d.text("totalCustomsValueVND"))),
    }


class _Reader:
    """Namespace-aware reads below one element; paths use the prefix of the element's own namespace."""

    def __init__(self, element: etree._Element, namespace: str) -> None:
        self.element = element
        self.namespace = namespace
        self._prefix = "o" if namespace == ORDER_NS else "d"
        self._ns = {self._prefix: namespace, "cm": COMMON_NS}

    def _path(self, path: str) -> str:
        return f"{self._prefix}:{path}"

    def text(self, path: str) -> str:
        return required_text(self.element, self._path(path), self._ns)

    def optional(self, path: str) -> str | None:
        return optional_text(self.element, self._path(path), self._ns)

    def child(self, path: str) -> _Reader:
        element = self.element.find(self._path(path), namespaces=self._ns)
        if element is None:
            raise ValueError(f"{path} is missing from {self.element.tag}")
        return _Reader(element, self.namespace)

    def children(self, path: str) -> list[_Reader]:
        return [_Reader(e, self.namespace) for e in self.element.findall(self._path(path), namespaces=self._ns)]
