"""The hardened parser against the classic XML attacks (unit tests, no services)."""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from conformance import SAMPLES_DIR, attacks
from gateway import xmlsafe
from gateway.envelope import ENVELOPE_NS, qname
from gateway.errors import ErrorCode
from gateway.exceptions import Rejected

SAMPLE = (SAMPLES_DIR / "ECOM_DECLARATION.xml").read_bytes()
SECRET = "s3cr3t-4f1d2c-never-to-be-read"


def rejection(data: bytes) -> Rejected:
    with pytest.raises(Rejected) as caught:
        xmlsafe.parse(data)
    return caught.value


def codes(data: bytes) -> list[str]:
    return [problem.code.name for problem in rejection(data).problems]


def everything_said(error: Rejected) -> str:
    """All the text a rejection carries (what would reach the sender in a receipt)."""
    return " ".join([str(error), *(f"{p.message} {p.location}" for p in error.problems)])


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET + "\n", encoding="utf-8")
    return path


# --- accepted -------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        SAMPLE,
        b"\xef\xbb\xbf" + SAMPLE,  # a UTF-8 byte order mark
        SAMPLE.replace(b'encoding="UTF-8"', b'encoding="utf-8"'),
        SAMPLE.split(b"?>", 1)[1].lstrip(),  # no XML declaration at all
        SAMPLE.replace(b"<Header>", b"<!-- a comment is fine --><Header>"),
    ],
    ids=["plain", "utf8-bom", "lowercase-utf8", "no-declaration", "comment"],
)
def test_legitimate_envelopes_parse_to_the_same_tree(data: bytes) -> None:
    root = xmlsafe.parse(data)

    assert root.tag == qname("Envelope")
    expected = etree.fromstring(SAMPLE)
    assert root.findtext(f"{qname('Header')}/{qname('Reference')}/{qname('messageId')}") == expected.findtext(
        f"{qname('Header')}/{qname('Reference')}/{qname('messageId')}"
    )
    assert root.findtext(f"{qname('Header')}/{qname('From')}/{qname('name')}") == "Công ty CP Giao nhận Sài Gòn Express"


def test_predefined_entities_character_references_and_cdata_are_plain_text() -> None:
    root = xmlsafe.parse(b"<a>&amp;&lt;&#233;&#x1EC7;<![CDATA[<&>]]></a>")

    assert root.text == "&<éệ<&>"


def test_legitimate_depth_is_accepted() -> None:
    assert xmlsafe.parse(attacks.deep_nesting(100)).tag == qname("Envelope")


# --- DTDs and entities ------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        attacks.with_doctype(SAMPLE),
        b"<!DOCTYPE Envelope><Envelope/>",
        b'<!DOCTYPE Envelope PUBLIC "-//X//DTD X//EN" "file:///nonexistent/x.dtd"><Envelope/>',
        attacks.entity_bomb(levels=2, fanout=2),  # small enough not to trip libxml2's amplification guard
    ],
    ids=["internal-subset", "bare-doctype", "public-id", "small-entity-bomb"],
)
def test_a_doctype_is_refused(data: bytes) -> None:
    error = rejection(data)

    assert [p.code for p in error.problems] == [ErrorCode.XML_DTD_FORBIDDEN]
    assert error.problems[0].location


def test_xxe_general_entity_is_refused_and_the_file_never_appears(secret_file: Path) -> None:
    error = rejection(attacks.xxe(SAMPLE, target=secret_file.as_uri()))

    assert [p.code for p in error.problems] == [ErrorCode.XML_DTD_FORBIDDEN]
    assert SECRET not in everything_said(error)


def test_xxe_on_etc_passwd_is_refused_without_its_content() -> None:
    error = rejection(attacks.xxe(SAMPLE))

    assert [p.code for p in error.problems] == [ErrorCode.XML_DTD_FORBIDDEN]
    said = everything_said(error)
    assert "root:" not in said and "/bin/" not in said


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda uri: f'<!DOCTYPE Envelope SYSTEM "{uri}"><Envelope/>'.encode(),
            id="external-subset",
        ),
        pytest.param(
            lambda uri: f'<!DOCTYPE Envelope [<!ENTITY % ext SYSTEM "{uri}"> %ext;]><Envelope/>'.encode(),
            id="external-parameter-entity",
        ),
        pytest.param(lambda uri: attacks.xxe(SAMPLE, target=uri), id="external-general-entity"),
        pytest.param(
            lambda uri: f'<!DOCTYPE Envelope [<!ENTITY ext SYSTEM "{uri}">]><Envelope a="&ext;"/>'.encode(),
            id="external-entity-in-attribute",
        ),
    ],
)
def test_the_parser_never_opens_a_file_named_in_the_document(make: Callable[[str], bytes], tmp_path: Path) -> None:
    """A FIFO tells whether anyone opened it: opening its write end without blocking succeeds only then."""
    fifo = tmp_path / "probe.fifo"
    os.mkfifo(fifo)
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(_parse_outcome(make(fifo.as_uri()))), daemon=True)
    worker.start()

    opened = _wait_for_reader(fifo, worker, timeout=2.0)
    worker.join(5)

    assert not worker.is_alive()
    assert outcome == [[ErrorCode.XML_DTD_FORBIDDEN]]
    assert not opened, "the parser opened a file named in the document"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b'<!DOCTYPE Envelope SYSTEM "file:///etc/passwd"><Envelope/>', id="external-subset"),
        pytest.param(
            b'<!DOCTYPE Envelope [<!ENTITY % ext SYSTEM "file:///etc/passwd"> %ext;]><Envelope/>',
            id="external-parameter-entity",
        ),
    ],
)
def test_a_doctype_naming_an_existing_file_is_refused_as_a_doctype(data: bytes) -> None:
    assert codes(data) == ["XML_DTD_FORBIDDEN"]


def test_the_parser_never_fetches_from_the_network() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/evil.dtd"
        for data in (
            f'<!DOCTYPE Envelope SYSTEM "{url}"><Envelope/>'.encode(),
            f'<!DOCTYPE Envelope [<!ENTITY % ext SYSTEM "{url}"> %ext;]><Envelope/>'.encode(),
            attacks.xxe(SAMPLE, target=url),
        ):
            rejection(data)
        with pytest.raises(TimeoutError):
            listener.accept()[0].close()


def test_entity_bomb_is_refused_fast() -> None:
    started = time.perf_counter()
    error = rejection(attacks.entity_bomb())
    elapsed = time.perf_counter() - started

    assert [p.code for p in error.problems] == [ErrorCode.XML_DTD_FORBIDDEN]
    assert elapsed < 1.0


def test_an_entity_reference_without_a_dtd_is_a_forbidden_construct() -> None:
    assert codes(b"<Envelope>&undeclared;</Envelope>") == ["XML_FORBIDDEN_CONSTRUCT"]


def test_an_entity_reference_without_a_dtd_is_refused() -> None:
    error = rejection(b"<Envelope>&undeclared;</Envelope>")

    assert error.problems[0].code.status == 400 and "undeclared" in error.problems[0].message


# --- limits -----------------------------------------------------------------------


@pytest.mark.parametrize("depth", [300, 10_000, 200_000])
def test_deep_nesting_exceeds_the_limit_quickly(depth: int) -> None:
    started = time.perf_counter()
    error = rejection(attacks.deep_nesting(depth))

    assert [p.code for p in error.problems] == [ErrorCode.XML_LIMIT_EXCEEDED]
    assert error.problems[0].location and error.problems[0].location.startswith("line ")
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("body", [None, SAMPLE], ids=["bare-root", "envelope"])
def test_an_attribute_over_libxml2s_node_limit_is_refused(body: bytes | None) -> None:
    """libxml2 caps a node at about 10,000,000 bytes (the exact point depends on the context); 10 MiB is the body limit."""
    assert codes(attacks.huge_attribute(10_300_000, body)) == ["XML_LIMIT_EXCEEDED"]


def test_a_large_but_bounded_attribute_is_accepted() -> None:
    assert len(xmlsafe.parse(attacks.huge_attribute(1_000_000)).get("padding")) == 1_000_000


# --- processing instructions --------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "target"),
    [
        (attacks.with_processing_instruction(SAMPLE), "xml-stylesheet"),
        (SAMPLE.replace(b"<Body>", b"<Body><?php system('id'); ?>"), "php"),
        (SAMPLE + b"<?after trailing?>", "after"),
    ],
    ids=["before-root", "inside", "after-root"],
)
def test_processing_instructions_are_refused_wherever_they_are(data: bytes, target: str) -> None:
    error = rejection(data)

    assert [p.code for p in error.problems] == [ErrorCode.XML_FORBIDDEN_CONSTRUCT]
    assert target in error.problems[0].message and error.problems[0].location.startswith("line ")


# --- encodings ----------------------------------------------------------------------

@pytest.mark.parametrize(
    "data",
    [
        attacks.wrong_encoding(SAMPLE, "utf-16"),
        SAMPLE.decode("utf-8").encode("utf-16-le"),  # no BOM
        SAMPLE.decode("utf-8").encode("utf-16-be"),  # no BOM
        attacks.wrong_encoding(SAMPLE, "declared-latin-1"),
        b"<?xml version='1.0' encoding='windows-1258'?><Envelope/>",
        attacks.wrong_encoding(SAMPLE, "latin-1-declared-utf-8"),
        b"<Envelope>\xc3\x28</Envelope>",  # an invalid UTF-8 sequence, no declaration
        pytest.param(
            attacks.wrong_encoding(SAMPLE, "declared-latin-1-late"),
        ),
    ],
    ids=[
        "utf16-bom", "utf16le", "utf16be", "declared-latin1", "declared-cp1258", "latin1-as-utf8", "invalid-utf8",
        "declared-latin1-after-byte-200",
    ],
)
def test_anything_but_utf8_is_refused(data: bytes) -> None:
    error = rejection(data)

    assert [p.code for p in error.problems] == [ErrorCode.XML_ENCODING]
    assert error.problems[0].message


SLICE = 1 << 20  # the UTF-8 check decodes a large body this many bytes at a time


@pytest.mark.parametrize(
    ("prefix", "expected_offset"),
    [
        (b"<E>" + b"x" * 10, 13),  # within the first slice
        (b"<E>" + b"x" * (SLICE - 3), SLICE),  # the first byte of the second slice
        (b"<E>" + b"x" * (SLICE - 4) + "é".encode(), SLICE + 1),  # after a character that ends the first slice
        (b"<E>" + b"x" * (SLICE - 4) + b"\xc3", SLICE - 1),  # a character cut by the slice and never finished
    ],
    ids=["first-slice", "second-slice", "after-a-full-character", "cut-character"],
)
def test_invalid_utf8_is_located_at_its_byte_in_a_large_body(prefix: bytes, expected_offset: int) -> None:
    error = rejection(prefix + b"\xff</E>")

    assert [p.code for p in error.problems] == [ErrorCode.XML_ENCODING]
    assert error.problems[0].message.endswith(f"(byte offset {expected_offset})")


def test_a_character_split_across_slices_is_valid_utf8() -> None:
    body = b"<E>" + b"x" * (SLICE - 4) + "ệ".encode() + b"</E>"  # three bytes: the slice ends inside it

    assert xmlsafe.parse(body).text.endswith("xệ")


# --- malformed ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        attacks.not_well_formed(SAMPLE),
        b"<Envelope><Header></Envelope>",
        b"<Envelope/><Envelope/>",
        b"not xml at all",
        b"<?xml version='1.0'?>",
        b"   ",
    ],
    ids=["truncated", "mismatched-tags", "two-roots", "text", "declaration-only", "whitespace"],
)
def test_malformed_documents_are_refused_with_a_position(data: bytes) -> None:
    error = rejection(data)

    assert [p.code for p in error.problems] == [ErrorCode.XML_MALFORMED]
    assert error.problems[0].location and error.problems[0].location.startswith("line ")


def test_a_late_encoding_declaration_cannot_change_how_utf8_is_read() -> None:
    data = ('<?xml version="1.0"' + " " * 250 + 'encoding="ISO-8859-1"?><Envelope>Công</Envelope>').encode("utf-8")

    try:
        root = xmlsafe.parse(data)
    except Rejected as error:
        assert [p.code for p in error.problems] == [ErrorCode.XML_ENCODING]
    else:
        assert root.text == "Công"


def test_the_parser_is_safe_to_use_from_many_threads() -> None:
    results: list[str] = []

    def parse_many() -> None:
        for _ in range(50):
            results.append(xmlsafe.parse(SAMPLE).tag)

    threads = [threading.Thread(target=parse_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [f"{{{ENVELOPE_NS}}}Envelope"] * 400


# --- helpers ----------------------------------------------------------------------------


def _parse_outcome(data: bytes) -> list[ErrorCode] | str:
    try:
        xmlsafe.parse(data)
    except Rejected as error:
        return [p.code for p in error.problems]
    return "accepted"


def _wait_for_reader(fifo: Path, worker: threading.Thread, timeout: float) -> bool:
    """True when someone opens `fifo` for reading while `worker` runs (then lets it read EOF)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and worker.is_alive():
        try:
            descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:
            if error.errno != errno.ENXIO:
                raise
            time.sleep(0.01)
            continue
        os.close(descriptor)
        return True
    return False


# --- structural limits, judged while parsing ------------------------------------------------

SMALL = xmlsafe.StructureLimits(
    max_elements=10, max_attributes_per_element=3, max_namespaces_per_element=2, max_namespaces_in_scope=3
)


@pytest.mark.parametrize(
    ("document", "code"),
    [
        (b"<a>" + b"<b/>" * 10 + b"</a>", ErrorCode.XML_ELEMENTS_LIMIT),
        (b'<a x="1" y="2" z="3" w="4"/>', ErrorCode.XML_ATTRIBUTES_LIMIT),
        (b'<a xmlns="u:0" xmlns:p="u:1" xmlns:q="u:2"/>', ErrorCode.XML_NAMESPACES_LIMIT),
        (b'<a xmlns:p="u:1"><b xmlns:q="u:2"><c xmlns:r="u:3"><d xmlns:s="u:4"/></c></b></a>', ErrorCode.XML_NAMESPACES_IN_SCOPE_LIMIT),
    ],
    ids=["elements", "attributes", "namespaces per element", "namespaces in scope"],
)
def test_each_structural_limit_has_its_own_code(document: bytes, code: ErrorCode) -> None:
    with pytest.raises(Rejected) as refused:
        xmlsafe.parse(document, limits=SMALL)

    assert [problem.code for problem in refused.value.problems] == [code]


def test_a_document_at_every_limit_is_parsed() -> None:
    at_limits = (
        b'<a xmlns="u:0" xmlns:p="u:1" x="1" y="2" z="3">'
        b'<b xmlns:q="u:2"><c/><c/><c/><c/><c/><c/><c/></b><d xmlns:r="u:3"/></a>'
    )  # 10 elements, 3 attributes, 2 declarations on a, 3 in scope in b and in d

    assert xmlsafe.parse(at_limits, limits=SMALL).tag == "{u:0}a"


def test_namespaces_leave_scope_with_their_element() -> None:
    siblings = b'<a xmlns:p="u:1">' + b'<b xmlns:q="u:2" xmlns:r="u:3"/>' * 5 + b"</a>"

    assert len(xmlsafe.parse(siblings, limits=SMALL)) == 5
