"""Attacks on a document's shape: structure that is cheap to send and expensive to canonicalise.

Each takes a signed envelope and returns it with the structure added (the signature no
longer matters: a gateway must refuse these shapes while parsing, or, for the PrefixList,
by its signature profile, before any canonicalisation or digest). The sizes the manifest
gives are those of the attack corpus, scaled down to what is enough to pass the default
limits (README, "Security: what an unauthenticated request may cost").
"""

from __future__ import annotations

import re

from lxml import etree

from gateway.envelope import DSIG_NS
from gateway.signing.algorithms import EXC_C14N_NS
from gateway.signing.sign import serialize

_ROOT_START = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?Envelope)\b")
_SIGNATURE_START = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?Signature)\b")


def many_attributes(body: bytes, count: int) -> bytes:
    """An element with `count` attributes before the signature (the corpus: 120,000 on one element)."""
    attributes = b" ".join(b'a%d=""' % n for n in range(count))
    return before_signature(body, b"<many " + attributes + b"/>")


def many_namespace_declarations(body: bytes, count: int) -> bytes:
    """`count` unused namespace declarations on the root (the corpus: 100,000 on a signed envelope)."""
    return _ROOT_START.sub(lambda found: found.group(0) + namespace_declarations(count), body, count=1)


def deep_namespace_scope(body: bytes, depth: int, elements: int = 1) -> bytes:
    """`depth` nested elements declaring one namespace each, around `elements` empty ones: many in scope."""
    opening = b"".join(b'<n xmlns:q%d="urn:conformance:q%d">' % (n, n) for n in range(depth))
    return before_signature(body, opening + b"<e/>" * elements + b"</n>" * depth)


def many_elements(body: bytes, count: int) -> bytes:
    """`count` empty elements before the signature."""
    return before_signature(body, b"<e/>" * count)


def long_prefix_list(body: bytes, count: int) -> bytes:
    """The Reference's exclusive c14n transform given an InclusiveNamespaces PrefixList of `count` prefixes."""
    root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    transform = root.find(
        f"{{{DSIG_NS}}}Signature/{{{DSIG_NS}}}SignedInfo/{{{DSIG_NS}}}Reference/{{{DSIG_NS}}}Transforms/"
        f"{{{DSIG_NS}}}Transform[@Algorithm='{EXC_C14N_NS}']"
    )
    if transform is None:
        raise ValueError("the signature has no exclusive c14n transform")
    prefixes = " ".join(f"p{n}" for n in range(count))
    etree.SubElement(transform, f"{{{EXC_C14N_NS}}}InclusiveNamespaces", PrefixList=prefixes, nsmap={"ec": EXC_C14N_NS})
    return serialize(root)


def namespace_declarations(count: int, start: int = 0) -> bytes:
    return b"".join(b' xmlns:p%d="urn:conformance:p%d"' % (n, n) for n in range(start, start + count))


def before_signature(body: bytes, text: bytes) -> bytes:
    found = _SIGNATURE_START.search(body)
    if found is None:
        raise ValueError("the body has no signature")
    return body[: found.start()] + text + body[found.start() :]
