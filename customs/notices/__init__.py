"""Building the payloads of the gateway's own documents (lane and result notices, alerts, customs responses).

Each builder returns an lxml element in its document's namespace; the outbox
wraps it in a signed envelope after checking it against the schema. The root
element and its namespace are the document type's (its definition in the
built-in pack), the common types' namespace is common.xsd's.
"""

from __future__ import annotations

import re

from lxml import etree

from gateway.schemas.catalogue import builtin, common_namespace


class PayloadBuilder:
    """Appends children in the namespace of one document type, with the common namespace declared for shared types."""

    def __init__(self, document_type: str) -> None:
        self.namespace = builtin().namespace(document_type)
        self.common = common_namespace()
        self.root = etree.Element(builtin().root(document_type), nsmap={None: self.namespace, "cm": self.common})

    def add(self, parent: etree._Element | None, local: str, text: str | None = None) -> etree._Element:
        element = etree.SubElement(self.root if parent is None else parent, f"{{{self.namespace}}}{local}")
        if text is not None:
            element.text = text
        return element

    def reason(self, parent: etree._Element, code: str, text: str) -> etree._Element:
        """A cm:Reason: a stable code and a plain-language text."""
        reason = self.add(parent, "reason")
        etree.SubElement(reason, f"{{{self.common}}}code").text = code
        etree.SubElement(reason, f"{{{self.common}}}text").text = clip(text, 512)
        return reason


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def symbol(code: str) -> str:
    """A code as the schemas' SymbolCode ([A-Z][A-Z0-9_]{2,63}): profile ids like RP-X-1 become RP_X_1."""
    return re.sub(r"[^A-Z0-9_]", "_", code.upper())[:64]
