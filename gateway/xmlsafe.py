"""Hardened XML parsing: the only way untrusted bytes become an element tree.

The parser never loads a DTD, never resolves an entity, never touches the
network and keeps libxml2's limits on depth and node size. On top of what the
parser refuses, documents that carry a DOCTYPE, entity references or processing
instructions are rejected outright: none has a legitimate use in an envelope,
and each is a classic vector (XXE, entity expansion, stylesheet injection).
"""

from __future__ import annotations

import codecs
import re
import threading
from dataclasses import dataclass

from lxml import etree

from gateway.errors import ErrorCode
from gateway.exceptions import Rejected

_XML_DECLARATION = re.compile(rb"^\s*<\?xml\s(.*?)\?>", re.DOTALL)
_ENCODING_PSEUDO_ATTRIBUTE = re.compile(rb"encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
# The prolog: white space, the XML declaration, comments and processing instructions.
_PROLOG_ITEM = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)
_MAX_PROLOG = 64 * 1024
_UTF8_BOM = b"\xef\xbb\xbf"
_ACCEPTED_ENCODINGS = frozenset({"utf-8", "utf8"})
_UTF8_CHECK_SLICE = 1 << 20

_local = threading.local()


def _parser(large_text: bool = False) -> etree.XMLParser:
    """One parser per thread and kind: lxml parsers are not safe to share between threads."""
    name = "large_text_parser" if large_text else "parser"
    parser = getattr(_local, name, None)
    if parser is None:
        # Note: collect_ids=False must not be set: with libxml2 2.14 it makes the parser
        # load external DTD subsets despite load_dtd=False (a file read, found by a test).
        # encoding="utf-8" decodes the bytes as UTF-8 whatever the document declares.
        parser = etree.XMLParser(
            encoding="utf-8",
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=large_text,
            remove_blank_text=False,
        )
        setattr(_local, name, parser)
    return parser


def check_encoding(data: bytes) -> None:
    """Accept UTF-8 only: a declared other encoding, a UTF-16 BOM or invalid UTF-8 is refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[:4] in (b"\x00<\x00?", b"<\x00?\x00"):
        raise Rejected.of(ErrorCode.XML_ENCODING, "the body is UTF-16 encoded; only UTF-8 is accepted")
    head = memoryview(data)[3:] if data.startswith(_UTF8_BOM) else memoryview(data)
    declaration = _XML_DECLARATION.match(head[:_MAX_PROLOG])
    encoding = _ENCODING_PSEUDO_ATTRIBUTE.search(declaration.group(1)) if declaration else None
    if encoding and encoding.group(1).decode("ascii").lower() not in _ACCEPTED_ENCODINGS:
        raise Rejected.of(
            ErrorCode.XML_ENCODING,
            f"the declared encoding {encoding.group(1).decode('ascii')!r} is not accepted; use UTF-8",
            "line 1",
        )
    if (offset := _invalid_utf8_at(head)) is not None:
        raise Rejected.of(ErrorCode.XML_ENCODING, f"the body is not valid UTF-8 (byte offset {offset})")


def _invalid_utf8_at(data: memoryview) -> int | None:
    """Where `data` stops being UTF-8, if it does; decoded a slice at a time, never held as text whole."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    for start in range(0, len(data), _UTF8_CHECK_SLICE):
        held = len(decoder.getstate()[0])  # the bytes of a character cut by the previous slice
        try:
            decoder.decode(data[start : start + _UTF8_CHECK_SLICE], final=start + _UTF8_CHECK_SLICE >= len(data))
        except UnicodeDecodeError as exc:
            return start - held + exc.start
    return None


def refuse_doctype(data: bytes) -> None:
    """Refuse a DOCTYPE before libxml2 sees it: the parser's own options are the second line of defence."""
    position = 3 if data.startswith(_UTF8_BOM) else 0
    limit = min(len(data), _MAX_PROLOG)
    while position < limit:
        item = _PROLOG_ITEM.match(data, position, limit)
        if item is None:
            break
        position = item.end()
    if data.startswith(b"<!DOCTYPE", position):
        line = data.count(b"\n", 0, position) + 1
        raise Rejected.of(ErrorCode.XML_DTD_FORBIDDEN, "the document declares a DOCTYPE", f"line {line}")


@dataclass(frozen=True, slots=True)
class StructureLimits:
    """Limits on a document's shape, refused while parsing (before any canonicalisation or digest).

    Each bounds a cost an anonymous client could otherwise choose: attributes to sort and
    namespace declarations to render per element in canonicalisation, namespaces carried
    into every element below them, elements to walk. Inclusive canonicalisation costs about
    elements x namespaces in scope (libxml2: some 170 ns each), exclusive with a PrefixList
    about elements x prefixes: the defaults keep both under half a second, and leave every
    real message far inside them (the largest declaration, 999 items, has some 12,000
    elements and fewer than 10 namespaces). Configured in [intake] of gateway.toml.
    """

    max_elements: int = 50_000
    max_attributes_per_element: int = 64
    max_namespaces_per_element: int = 16
    max_namespaces_in_scope: int = 32


class _ShapeCounter:
    """An lxml parser target that counts as libxml2 reads, and stops the parse at the first limit passed."""

    def __init__(self, limits: StructureLimits) -> None:
        self.limits = limits
        self.elements = 0
        self.declared_here = 0  # namespace declarations seen since the last start tag: the next element's
        self.in_scope = 0

    def start_ns(self, prefix: str | None, uri: str) -> None:
        self.declared_here += 1
        self.in_scope += 1
        if self.declared_here > self.limits.max_namespaces_per_element:
            raise Rejected.of(
                ErrorCode.XML_NAMESPACES_LIMIT,
                f"element {self.elements + 1} declares more than {self.limits.max_namespaces_per_element} namespaces",
            )
        if self.in_scope > self.limits.max_namespaces_in_scope:
            raise Rejected.of(
                ErrorCode.XML_NAMESPACES_IN_SCOPE_LIMIT,
                f"element {self.elements + 1} has more than {self.limits.max_namespaces_in_scope} namespaces in scope",
            )

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.elements += 1
        if self.elements > self.limits.max_elements:
            raise Rejected.of(ErrorCode.XML_ELEMENTS_LIMIT, f"the document has more than {self.limits.max_elements:,} elements")
        if len(attrib) > self.limits.max_attributes_per_element:
            raise Rejected.of(
                ErrorCode.XML_ATTRIBUTES_LIMIT,
                f"element {self.elements} ({tag}) has {len(attrib):,} attributes; at most "
                f"{self.limits.max_attributes_per_element} are allowed",
            )
        self.declared_here = 0

    def end_ns(self, prefix: str | None) -> None:
        self.in_scope -= 1

    def close(self) -> None:
        return None


def check_structure(data: bytes, limits: StructureLimits) -> None:
    """Refuse a document whose shape passes `limits`, reading it once without building a tree.

    Syntax errors are left to `parse`, which reports them; only the limits are judged here.
    The reading costs a Python call per element, so it is skipped when the bytes alone show
    that no limit can be passed: an element takes at least 4 bytes (`<a/>`), an attribute
    or a namespace declaration at least one "=", a namespace declaration the word "xmlns".
    """
    if (
        len(data) // 4 <= limits.max_elements
        and data.count(b"=") <= limits.max_attributes_per_element
        and data.count(b"xmlns") <= min(limits.max_namespaces_per_element, limits.max_namespaces_in_scope)
    ):
        return
    parser = etree.XMLParser(
        target=_ShapeCounter(limits), encoding="utf-8", resolve_entities=False, no_network=True, load_dtd=False
    )
    try:
        etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return


def parse(data: bytes, large_text: bool = False, limits: StructureLimits | None = None) -> etree._Element:
    """Parse untrusted bytes into an element, or raise `Rejected` saying exactly why not.

    `large_text` lifts libxml2's 10,000,000-byte limit on one text node, for a transport
    wrapper (a SOAP request) whose text carries a whole message as base64: its size is
    bounded by the door's body limit before parsing, and the message it carries is parsed
    again, with the limit, by the pipeline. DTDs, entities and the network stay refused.
    With `limits` (a message from outside), the document's shape is judged first, as it is read.
    """
    check_encoding(data)
    refuse_doctype(data)
    if limits is not None:
        check_structure(data, limits)
    parser = _parser(large_text)
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


# libxml2's own limits without XML_PARSE_HUGE (which the parser never sets for a message).
MAX_DEPTH = 256
MAX_NODE_BYTES = 10_000_000


def _syntax_rejection(exc: etree.XMLSyntaxError) -> Rejected:
    message = str(exc.msg or exc)
    location = f"line {exc.lineno}, column {exc.offset}" if exc.lineno else None
    lowered = message.lower()
    if "depth" in lowered or "too deep" in lowered:
        return Rejected.of(ErrorCode.XML_LIMIT_EXCEEDED, f"the document is nested more than {MAX_DEPTH} elements deep", location)
    if "huge" in lowered or "too long" in lowered or "resource limit" in lowered:
        return Rejected.of(ErrorCode.XML_LIMIT_EXCEEDED, f"a node is larger than {MAX_NODE_BYTES:,} bytes", location)
    if "entity" in lowered and ("not defined" in lowered or "undeclared" in lowered):
        return Rejected.of(ErrorCode.XML_FORBIDDEN_CONSTRUCT, message, location)
    if "entity" in lowered or "doctype" in lowered or "dtd" in lowered:
        return Rejected.of(ErrorCode.XML_DTD_FORBIDDEN, message, location)
    if "encoding" in lowered or "utf-8" in lowered or ("char" in lowered and "range" in lowered):
        return Rejected.of(ErrorCode.XML_ENCODING, message, location)
    return Rejected.of(ErrorCode.XML_MALFORMED, message, location)


def without_comments(root: etree._Element) -> etree._Element:
    """Remove the comments from a verified tree, keeping the text around them.

    Exclusive canonicalisation without comments does not sign them, so a comment
    can be added to a signed document without breaking its signature. Only the
    signed content may be processed: after verification the comments go.
    """
    etree.strip_elements(root, etree.Comment, with_tail=False)
    return root
