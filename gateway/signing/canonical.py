"""Canonicalisation of elements and the enveloped-signature transform, on a parsed tree."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from lxml import etree

from gateway.signing.algorithms import Canonicalization
from gateway.signing.exc_c14n import DEFAULT, canonicalize_exclusive


def canonicalize(
    element: etree._Element,
    method: Canonicalization,
    inclusive_prefixes: Sequence[str] | None = None,
) -> bytes:
    """Canonical bytes of an element (with its in-scope namespaces), per `method`."""
    if method.exclusive and inclusive_prefixes and DEFAULT in inclusive_prefixes:
        return canonicalize_exclusive(element, inclusive_prefixes, method.with_comments)  # lxml drops "#default"
    return etree.tostring(
        element,
        method="c14n",
        exclusive=method.exclusive,
        with_comments=method.with_comments,
        inclusive_ns_prefixes=list(inclusive_prefixes) if method.exclusive and inclusive_prefixes else None,
    )


@contextlib.contextmanager
def signature_detached(signature: etree._Element) -> Iterator[None]:
    """Temporarily take `signature` out of its tree: the enveloped-signature transform.

    lxml moves an element's tail text with the element, but in the XPath data model
    that text is a sibling node that the transform keeps; it is handed to the
    preceding node while the signature is out, and everything is put back after.
    """
    parent = signature.getparent()
    if parent is None:
        raise ValueError("an enveloped signature needs a parent element")
    index = parent.index(signature)
    tail = signature.tail
    previous = signature.getprevious()
    saved_text = previous.tail if previous is not None else parent.text
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(signature)
    try:
        yield
    finally:
        if previous is not None:
            previous.tail = saved_text
        else:
            parent.text = saved_text
        parent.insert(index, signature)
        signature.tail = tail
