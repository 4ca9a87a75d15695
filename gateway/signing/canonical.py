"""Canonicalisation of elements and the enveloped-signature transform, on a parsed tree."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from cryptography.hazmat.primitives import hashes
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
    return etree.tostring(element, method="c14n", **_options(method, inclusive_prefixes))


def canonical_digest(
    element: etree._Element,
    method: Canonicalization,
    inclusive_prefixes: Sequence[str] | None = None,
    algorithm: type[hashes.HashAlgorithm] = hashes.SHA256,
) -> bytes:
    """The digest of `canonicalize(element, method, inclusive_prefixes)`, without holding those bytes when it can.

    The canonical form of a whole message is as large as the message. When the element
    is its document's only top-level node (a parsed message: comments and processing
    instructions outside it are refused or, without comments, not canonical), the
    canonical form of the document is the element's, and libxml2 writes it into the
    hash piece by piece.
    """
    digest = hashes.Hash(algorithm())
    streamable = (
        element.getparent() is None
        and not (method.exclusive and inclusive_prefixes and DEFAULT in inclusive_prefixes)
        and next(element.itersiblings(), None) is None
        and next(element.itersiblings(preceding=True), None) is None
    )
    if streamable:
        element.getroottree().write_c14n(_HashWriter(digest), **_options(method, inclusive_prefixes))
    else:
        digest.update(canonicalize(element, method, inclusive_prefixes))
    return digest.finalize()


class _HashWriter:
    """A file-like sink that hashes what is written to it."""

    def __init__(self, digest: hashes.Hash) -> None:
        self.write = digest.update


def _options(method: Canonicalization, inclusive_prefixes: Sequence[str] | None) -> dict[str, object]:
    return {
        "exclusive": method.exclusive,
        "with_comments": method.with_comments,
        "inclusive_ns_prefixes": list(inclusive_prefixes) if method.exclusive and inclusive_prefixes else None,
    }


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
