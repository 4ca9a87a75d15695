"""Where in a document a problem is, written so that a person can read it and a tool can evaluate it.

A location is the line and an XPath with a prefix on every step, for example

    line 41, /env:Envelope/env:Body/env:Content/declaration:Declaration/declaration:items/declaration:item[2]/declaration:hsCode
    (env = urn:customs.gov.vn:ecom:envelope:1, declaration = urn:customs.gov.vn:ecom:declaration:1)

Each namespace takes the prefix the document itself declares for it; a namespace the document uses as
its default gets `env` for the envelope's, and otherwise a name made from the namespace itself. The
bindings follow the path, so the XPath can be evaluated as it is written.
"""

from __future__ import annotations

import re

from lxml import etree

from gateway.namespaces import ENVELOPE_NS

PREFERRED = {ENVELOPE_NS: "env"}


def describe(element: etree._Element) -> str:
    """The location of `element`: its line, its prefixed path and the prefixes' namespaces."""
    path, bindings = xpath_of(element)
    return _written(element.sourceline, path, bindings)


def locate(anchor: etree._Element, relative: str) -> str:
    """The location of the element at `relative` below `anchor`, or where it would be if it is missing.

    `relative` is a path of local names in `anchor`'s namespace, each with an optional [n]
    ("Header/Subject/documentType", "items/item[3]/hsCode").
    """
    namespace = etree.QName(anchor).namespace
    node = anchor
    steps = [step for step in relative.split("/") if step]
    for done, step in enumerate(steps):
        local, _, index = step.partition("[")
        matches = node.findall(f"{{{namespace}}}{local}" if namespace else local)
        position = int(index.rstrip("]")) if index else 1
        if len(matches) < position:  # missing: the path to it from the deepest element there is
            path, bindings = xpath_of(node)
            prefix = _prefix(node, namespace, bindings) + ":" if namespace else ""
            return _written(node.sourceline, path + "".join(f"/{prefix}{s}" for s in steps[done:]), bindings)
        node = matches[position - 1]
    return describe(node)


def _written(line: int | None, path: str, bindings: dict[str, str]) -> str:
    named = ", ".join(f"{prefix} = {namespace}" for prefix, namespace in bindings.items())
    return (f"line {line}, " if line else "") + path + (f" ({named})" if named else "")


def xpath_of(element: etree._Element) -> tuple[str, dict[str, str]]:
    """An absolute XPath to `element` with a prefix per namespace, and the prefix -> namespace bindings."""
    chain = [element, *element.iterancestors()][::-1]
    bindings: dict[str, str] = {}  # prefix -> namespace
    steps = []
    for node in chain:
        name = etree.QName(node)
        step = name.localname
        if name.namespace:
            step = f"{_prefix(node, name.namespace, bindings)}:{step}"
        parent = node.getparent()
        if parent is not None:
            same = [sibling for sibling in parent.iterchildren(node.tag)]
            if len(same) > 1:
                step += f"[{same.index(node) + 1}]"
        steps.append(step)
    return "/" + "/".join(steps), bindings


def _prefix(node: etree._Element, namespace: str, bindings: dict[str, str]) -> str:
    for prefix, bound in bindings.items():
        if bound == namespace:
            return prefix
    wanted = node.prefix or PREFERRED.get(namespace) or _name_for(namespace)
    prefix, counter = wanted, 2
    while prefix in bindings:
        prefix, counter = f"{wanted}{counter}", counter + 1
    bindings[prefix] = namespace
    return prefix


def _name_for(namespace: str) -> str:
    """A readable prefix from a namespace: its last word that is not a version (urn:...:declaration:1 -> declaration)."""
    words = [w for w in re.split(r"[:/#]", namespace) if re.fullmatch(r"[A-Za-z][\w.-]*", w)]
    word = re.sub(r"[^a-z0-9]", "", words[-1].lower()) if words else ""
    return (word or "ns")[:24]
