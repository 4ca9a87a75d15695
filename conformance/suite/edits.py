"""Changing an envelope tree by data: the `edits` and `after_signing` lists of a case.

Paths are XPath 1.0 relative to the Envelope, with the prefixes ``e`` (envelope),
``ds`` (XML-DSig), ``cm`` (common types) and ``p`` (the payload's own namespace,
whatever the document type), e.g. ``e:Body/e:Content/p:*/p:items/p:item[1]/p:hsCode``.
Every edit must select at least one node: an edit that silently does nothing
would make a case check nothing.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterable

from lxml import etree

from conformance import sample
from conformance.suite.model import Edit
from gateway.envelope import DSIG_NS, ENVELOPE_NS, content_element, qname
from gateway.schemas.catalogue import common_namespace

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


class EditError(ValueError):
    """An edit that cannot apply to the envelope it was given (a mistake in the manifest)."""


def namespaces(root: etree._Element) -> dict[str, str]:
    payload = content_element(root)
    prefixes = {"e": ENVELOPE_NS, "ds": DSIG_NS, "cm": common_namespace()}
    if payload is not None and etree.QName(payload).namespace:
        prefixes["p"] = etree.QName(payload).namespace
    return prefixes


def apply(root: etree._Element, edits: Iterable[Edit]) -> None:
    """Apply `edits` to `root` in place, in order."""
    for edit in edits:
        _APPLY[edit.op](root, edit)


def select(root: etree._Element, path: str) -> list[etree._Element]:
    try:
        found = root.xpath(path, namespaces=namespaces(root))
    except etree.XPathError as exc:
        raise EditError(f"bad path {path!r}: {exc}") from None
    if not isinstance(found, list) or not found or not all(isinstance(node, etree._Element) for node in found):
        raise EditError(f"path {path!r} selects no element")
    return found


def path_of(element: etree._Element) -> str:
    """The XPath (with this module's prefixes) that selects exactly `element` in its envelope."""
    prefixes = {namespace: prefix for prefix, namespace in namespaces(element.getroottree().getroot()).items()}
    steps = []
    node = element
    while node.getparent() is not None:
        name = etree.QName(node)
        same = [sibling for sibling in node.getparent() if sibling.tag == node.tag]
        step = f"{prefixes[name.namespace]}:{name.localname}"
        steps.append(step + (f"[{same.index(node) + 1}]" if len(same) > 1 else ""))
        node = node.getparent()
    return "/".join(reversed(steps))


def _set(root: etree._Element, edit: Edit) -> None:
    value = edit.char * edit.fill if edit.fill is not None else edit.value or ""
    if edit.seconds_from_now is not None:  # a time that stays within a receiving gateway's replay window
        moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=edit.seconds_from_now)
        value = moment.isoformat(timespec="seconds")
    for element in select(root, edit.path):
        if edit.attribute:
            element.set(edit.attribute, value)
        else:
            for child in list(element):  # a text replaces whatever was there (e.g. a comment)
                element.remove(child)
            element.text = value


def _remove(root: etree._Element, edit: Edit) -> None:
    for element in select(root, edit.path):
        parent = element.getparent()
        if parent is None:
            raise EditError("the root cannot be removed")
        parent.remove(element)


def _append(root: etree._Element, edit: Edit) -> None:
    prefix, _, local = (edit.element or "").rpartition(":")
    for parent in select(root, edit.path):
        namespace = namespaces(root).get(prefix)
        if namespace is None:
            raise EditError(f"unknown prefix in element name {edit.element!r}")
        child = etree.SubElement(parent, f"{{{namespace}}}{local}")
        child.text = edit.value


def _duplicate(root: etree._Element, edit: Edit) -> None:
    for element in select(root, edit.path):
        for _ in range(edit.times):
            element.addnext(copy.deepcopy(element))


def _replace_payload(root: etree._Element, edit: Edit) -> None:
    other = etree.parse(str(sample(edit.sample).file), _PARSER).getroot()
    replacement = content_element(other)
    content = root.find(f"{qname('Body')}/{qname('Content')}")
    current = content_element(root)
    if replacement is None or content is None or current is None:
        raise EditError("replace_payload needs a payload in both envelopes")
    replacement.tail = current.tail
    content.replace(current, replacement)


_APPLY = {
    "set": _set,
    "remove": _remove,
    "append": _append,
    "duplicate": _duplicate,
    "replace_payload": _replace_payload,
}
EDIT_OPS = frozenset(_APPLY)
