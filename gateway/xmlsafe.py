"""Hardened XML parsing: the only way untrusted bytes become an element tree.

The parser never loads a DTD, never resolves an entity, never touches the
network and keeps libxml2's limits on depth and node size. On top of what the
parser refuses, documents that carry a DOCTYPE, entity references or processing
instructions are rejected outright: none has a legitimate use in an envelope,
and each is a classic vector (XXE, entity expansion, stylesheet injection).
"""

from __future__ import annotations

import re
import threading

from lxml import etree

from gateway.errors import ErrorCode, Rejected

_XML_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_UTF8_BOM = b"\xef\xbb\xbf"
_ACCEPTED_ENCODINGS = frozenset({"utf-8", "utf8"})

_local = threading.local()


def _parser() -> etree.XMLParser:
    """One parser per thread: lxml parsers are not safe to share between threads."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_blank_text=False,
            collect_ids=False,
        )
        _local.parser = parser
    return parser


def check_encoding(data: bytes) -> None:
    """Accept UTF-8 only: a declared other encoding, a UTF-16 BOM or invalid UTF-8 is refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[:4] in (b"\x00<\x00?", b"<\x00?\x00"):
        raise Rejected.of(ErrorCode.XML_ENCODING, "the body is UTF-16 encoded; only UTF-8 is accepted")
    head = data[3:] if data.startswith(_UTF8_BOM) else data
    declared = _XML_DECLARATION.match(head[:200])
    if declared and declared.group(1).decode("ascii").lower() not in _ACCEPTED_ENCODINGS:
        raise Rejected.of(
            ErrorCode.XML_ENCODING,
            f"the declared encoding {declared.group(1).decode('ascii')!r} is not accepted; use UTF-8",
        )
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected.of(
            ErrorCode.XML_ENCODING, f"the body is not valid UTF-8 (byte offset {exc.start})"
        ) from None


def parse(data: bytes) -> etree._Element:
    """Parse untrusted bytes into an element, or raise `Rejected` saying exactly why not."""
    check_encoding(data)
    parser = _parser()
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise _syntax_rejection(exc) from None
    if root is None:
        raise Rejected.of(ErrorCode.XML_MALFORMED, "the body holds no XML element")
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise Rejected.of(ErrorCode.XML_DTD_FORBIDDEN, "the document declares a DOCTYPE", "line 1")
    _refuse_forbidden_nodes(root)
    return root


def _refuse_forbidden_nodes(root: etree._Element) -> None:
    for sibling in (*root.itersiblings(preceding=True), *root.itersiblings()):
        if isinstance(sibling, etree._ProcessingInstruction):
            raise Rejected.of(
                ErrorCode.XML_FORBIDDEN_CONSTRUCT,
                f"processing instruction <?{sibling.target}?> is not allowed",
                f"line {sibling.sourceline}",
            )
    for node in root.iter(etree.Entity, etree.ProcessingInstruction):
        what = (
            f"entity reference {node.text}"
            if isinstance(node, etree._Entity)
            else f"processing instruction <?{node.target}?>"
        )
        raise Rejected.of(
            ErrorCode.XML_FORBIDDEN_CONSTRUCT, f"{what} is not allowed", f"line {node.sourceline}"
        )


def _syntax_rejection(exc: etree.XMLSyntaxError) -> Rejected:
    message = str(exc.msg or exc)
    location = f"line {exc.lineno}, column {exc.offset}" if exc.lineno else None
    lowered = message.lower()
    if "huge" in lowered or "depth" in lowered or "too deep" in lowered or "excessive depth" in lowered:
        return Rejected.of(ErrorCode.XML_LIMIT_EXCEEDED, message, location)
    if "entity" in lowered or "doctype" in lowered or "dtd" in lowered:
        return Rejected.of(ErrorCode.XML_DTD_FORBIDDEN, message, location)
    if "encoding" in lowered or "utf-8" in lowered or ("char" in lowered and "range" in lowered):
        return Rejected.of(ErrorCode.XML_ENCODING, message, location)
    return Rejected.of(ErrorCode.XML_MALFORMED, message, location)
