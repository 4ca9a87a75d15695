"""Exclusive XML Canonicalization 1.0 for a PrefixList that names `#default`.

The Exclusive C14N recommendation (section 3) lets an InclusiveNamespaces PrefixList
name the default namespace as `#default`, and xmlsec1 and other signers use it. libxml2
understands the token, but lxml only hands libxml2 the prefixes that occur in the
document's name dictionary, so `#default` never reaches it and the default namespace is
treated exclusively: the canonical bytes differ and a valid signature fails. This module
canonicalises an element subtree in Python, the same way, with the default namespace
handled inclusively; everything else is lxml's (libxml2's) job. The test suite checks that
this implementation agrees with libxml2 on every PrefixList libxml2 can take.

lxml does not say which prefix a namespaced attribute was written with; when several
prefixes in scope are bound to its namespace the canonical form cannot be known here,
and `AmbiguousPrefix` is raised (no real signer writes such a document).
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

DEFAULT = "#default"
_XML_NS = "http://www.w3.org/XML/1998/namespace"
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#xD;"})
_ATTRIBUTE_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", '"': "&quot;", "\t": "&#x9;", "\n": "&#xA;", "\r": "&#xD;"}
)


class AmbiguousPrefix(ValueError):
    """An attribute's namespace is bound to several prefixes, so its written prefix is unknown."""


def canonicalize_exclusive(element: etree._Element, prefix_list: Iterable[str], with_comments: bool) -> bytes:
    """The exclusive canonical form of `element`'s subtree, `#default` in `prefix_list` honoured."""
    inclusive: set[str | None] = {None if prefix == DEFAULT else prefix for prefix in prefix_list}
    parts: list[str] = []
    _element(element, inclusive, {}, with_comments, parts)
    return "".join(parts).encode("utf-8")


def _element(
    element: etree._Element,
    inclusive: set[str | None],
    rendered: dict[str | None, str],
    with_comments: bool,
    parts: list[str],
) -> None:
    in_scope = element.nsmap
    attributes = [(etree.QName(name), value) for name, value in element.attrib.items()]
    utilised: set[str | None] = {element.prefix}
    utilised.update(_prefix_of(name.namespace, in_scope) for name, _ in attributes if name.namespace)
    declared: dict[str | None, str] = {}
    for prefix in utilised | (inclusive & (set(in_scope) | {None})):
        if prefix == "xml":
            continue
        uri = in_scope.get(prefix, "")
        if prefix is not None and prefix not in in_scope:
            continue
        if rendered.get(prefix, "" if prefix is None else None) != uri:
            declared[prefix] = uri
    name = _qualified(element.prefix, etree.QName(element).localname)
    parts.append(f"<{name}")
    for prefix in sorted(declared, key=lambda p: "" if p is None else p):
        attribute = "xmlns" if prefix is None else f"xmlns:{prefix}"
        parts.append(f' {attribute}="{declared[prefix].translate(_ATTRIBUTE_ESCAPES)}"')
    for qname, value in sorted(attributes, key=lambda item: (item[0].namespace or "", item[0].localname)):
        prefix = _prefix_of(qname.namespace, in_scope) if qname.namespace else None
        parts.append(f' {_qualified(prefix, qname.localname)}="{value.translate(_ATTRIBUTE_ESCAPES)}"')
    parts.append(">")
    parts.append((element.text or "").translate(_TEXT_ESCAPES))
    below = {**rendered, **declared}
    for child in element:
        if isinstance(child.tag, str):
            _element(child, inclusive, below, with_comments, parts)
        elif isinstance(child, etree._Comment) and with_comments:
            parts.append(f"<!--{child.text or ''}-->")
        elif isinstance(child, etree._ProcessingInstruction):
            parts.append(f"<?{child.target}{' ' + child.text if child.text else ''}?>")
        parts.append((child.tail or "").translate(_TEXT_ESCAPES))
    parts.append(f"</{name}>")


def _prefix_of(namespace: str, in_scope: dict[str | None, str]) -> str:
    if namespace == _XML_NS:
        return "xml"
    prefixes = [prefix for prefix, uri in in_scope.items() if uri == namespace and prefix is not None]
    if len(prefixes) != 1:
        raise AmbiguousPrefix(f"namespace {namespace} is bound to the prefixes {', '.join(sorted(prefixes))}")
    return prefixes[0]


def _qualified(prefix: str | None, local: str) -> str:
    return f"{prefix}:{local}" if prefix else local
