"""The schema registry with the built-in pack: compilation, the samples, and how problems are reported."""

from __future__ import annotations

import pytest
from lxml import etree
from support import evaluate_location

from conformance import SAMPLES_DIR
from gateway import xmlsafe
from gateway.envelope import ENVELOPE_NS, content_element
from gateway.errors import ErrorCode
from gateway.schemas.catalogue import builtin
from gateway.schemas.registry import SchemaRegistry

XS = "http://www.w3.org/2001/XMLSchema"
CATALOGUE = builtin()
SAMPLE_FILES = sorted(SAMPLES_DIR.glob("*.xml"))


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load()


def parse_text(text: str) -> etree._Element:
    return xmlsafe.parse(text.encode("utf-8"))


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the only occurrence of `needle` in `text`."""
    assert text.count(needle) == 1, needle
    return text[: text.index(needle)].count("\n") + 1


# --- the catalogue -----------------------------------------------------------------------


def test_registry_holds_exactly_the_catalogue(registry: SchemaRegistry) -> None:
    assert set(registry.documents) == set(CATALOGUE) and registry.catalogue == CATALOGUE
    assert registry.get("NO_SUCH_TYPE") is None


@pytest.mark.parametrize("document_type", sorted(CATALOGUE))
def test_builtin_document_type_compiles_and_declares_its_root(registry: SchemaRegistry, document_type: str) -> None:
    definition = CATALOGUE[document_type]
    document = registry.get(document_type)

    assert document is not None and document.name == document_type and document.definition == definition
    assert document.schema.path == definition.xsd
    assert document.senders == definition.senders and document.functions == frozenset(definition.functions)
    # The configured root must be a global element of the schema, in its target namespace.
    xsd = etree.parse(str(document.schema.path)).getroot()
    namespace, local = document.root[1:].split("}")
    assert xsd.get("targetNamespace") == namespace
    assert local in {element.get("name") for element in xsd.findall(f"{{{XS}}}element")}


def test_conformance_samples_link_to_every_type_sample() -> None:
    """conformance/samples/<documentType>.xml (README, DESIGN) is a view of the samples in the type folders."""
    assert {path.stem for path in SAMPLE_FILES} == set(CATALOGUE)
    assert all(path.resolve() == CATALOGUE[path.stem].sample.file for path in SAMPLE_FILES)


@pytest.mark.parametrize("document_type", sorted(CATALOGUE))
def test_every_sample_validates(registry: SchemaRegistry, document_type: str) -> None:
    root = xmlsafe.parse(CATALOGUE[document_type].sample.file.read_bytes())
    document = registry.get(document_type)
    subject_type = root.findtext(f"{{{ENVELOPE_NS}}}Header/{{{ENVELOPE_NS}}}Subject/{{{ENVELOPE_NS}}}documentType")

    assert subject_type == document_type
    assert registry.validate_envelope(root) == []
    payload = content_element(root)
    assert payload is not None and payload.tag == document.root
    assert registry.validate_payload(document, payload) == []


# --- reporting problems --------------------------------------------------------------------

DECLARATION_TEXT = (SAMPLES_DIR / "ECOM_DECLARATION.xml").read_text(encoding="utf-8")


def test_payload_validation_reports_every_error_with_its_line(registry: SchemaRegistry) -> None:
    breaks = [  # (original, replacement, what the error message names)
        ("<direction>IMPORT</direction>", "<direction>SIDEWAYS</direction>", "SIDEWAYS"),
        ("<borderGate>02B1</borderGate>", "<borderGate>not a gate!</borderGate>", "not a gate!"),
        ("<hsCode>85183090</hsCode>", "<hsCode>8518-30</hsCode>", "8518-30"),
        ("<customsValueVND>1207170</customsValueVND>", "<customsValueVND>-5</customsValueVND>", "-5"),
    ]
    text = DECLARATION_TEXT
    for old, new, _ in breaks:
        text = text.replace(old, new)

    root = parse_text(text)

    problems = registry.validate_payload(registry.get("ECOM_DECLARATION"), content_element(root))

    assert {p.code for p in problems} == {ErrorCode.PAYLOAD_SCHEMA_INVALID}
    assert [(p.location.split(",")[0], named in p.message) for p, (_, _, named) in zip(problems, breaks, strict=True)] == [
        (f"line {line_of(text, named)}", True) for _, _, named in breaks
    ]
    assert [[e.text for e in evaluate_location(p.location, root)] for p in problems] == [[n] for _, _, n in breaks]


def test_envelope_validation_reports_every_error_with_its_line(registry: SchemaRegistry) -> None:
    text = (
        DECLARATION_TEXT.replace("<version>1.0</version>", "<version>one</version>")
        .replace("<countryCode>VN</countryCode>\n    </From>", "<countryCode>Vietnam</countryCode>\n    </From>")
        .replace("<function>01</function>", "<function>77</function>")
    )

    problems = registry.validate_envelope(parse_text(text))

    assert {p.code for p in problems} == {ErrorCode.ENVELOPE_SCHEMA_INVALID}
    assert [p.location.split(",")[0] for p in problems] == [
        f"line {line_of(text, needle)}"
        for needle in ("<version>one</version>", "<countryCode>Vietnam</countryCode>", "<function>77</function>")
    ]


def test_envelope_problem_location_paths_point_at_the_element(registry: SchemaRegistry) -> None:
    root = parse_text(DECLARATION_TEXT.replace("<version>1.0</version>", "<version>one</version>"))

    (problem,) = registry.validate_envelope(root)

    assert [element.text for element in evaluate_location(problem.location, root)] == ["one"]


def test_payload_problem_location_paths_point_at_the_element(registry: SchemaRegistry) -> None:
    """The path is absolute in the envelope the sender sent, not relative to the payload."""
    root = parse_text(DECLARATION_TEXT.replace("<direction>IMPORT</direction>", "<direction>SIDEWAYS</direction>"))

    (problem,) = registry.validate_payload(registry.get("ECOM_DECLARATION"), content_element(root))

    assert [element.text for element in evaluate_location(problem.location, root)] == ["SIDEWAYS"]


def test_wrong_root_element_in_content_is_reported(registry: SchemaRegistry) -> None:
    order = etree.fromstring((SAMPLES_DIR / "ECOM_ORDER.xml").read_bytes()).find(f"{{{ENVELOPE_NS}}}Body/{{{ENVELOPE_NS}}}Content/*")
    root = parse_text(DECLARATION_TEXT)
    content = root.find(f"{{{ENVELOPE_NS}}}Body/{{{ENVELOPE_NS}}}Content")
    content.replace(content[0], order)

    problems = registry.validate_payload(registry.get("ECOM_DECLARATION"), content_element(root))

    assert len(problems) == 1
    (problem,) = problems
    assert problem.code is ErrorCode.PAYLOAD_SCHEMA_INVALID
    assert "{urn:customs.gov.vn:ecom:order:1}Order" in problem.message
    assert "{urn:customs.gov.vn:ecom:declaration:1}Declaration" in problem.message and "ECOM_DECLARATION" in problem.message
    assert evaluate_location(problem.location, root) == [order]


@pytest.mark.parametrize("children", [0, 2], ids=["empty", "two-payloads"])
def test_content_must_hold_exactly_one_element(registry: SchemaRegistry, children: int) -> None:
    root = parse_text(DECLARATION_TEXT)
    content = root.find(f"{{{ENVELOPE_NS}}}Body/{{{ENVELOPE_NS}}}Content")
    payload = content[0]
    content.remove(payload)
    for _ in range(children):
        content.append(etree.fromstring(etree.tostring(payload)))

    problems = registry.validate_payload(registry.get("ECOM_DECLARATION"), content_element(root))

    assert [(p.code, p.location) for p in problems] == [(ErrorCode.PAYLOAD_SCHEMA_INVALID, f"/env:Envelope/env:Body/env:Content (env = {ENVELOPE_NS})")]


def test_error_list_is_capped(registry: SchemaRegistry) -> None:
    """A payload with hundreds of errors gets at most MAX_ERRORS of them, not an unbounded list."""
    from gateway.schemas.registry import MAX_ERRORS

    item = DECLARATION_TEXT[DECLARATION_TEXT.index("<item>") : DECLARATION_TEXT.index("</item>") + len("</item>")]
    bad_item = item.replace("<lineNumber>1</lineNumber>", "<lineNumber>x</lineNumber>")
    text = DECLARATION_TEXT.replace(item, bad_item * (MAX_ERRORS + 20), 1)

    problems = registry.validate_payload(registry.get("ECOM_DECLARATION"), content_element(parse_text(text)))

    assert len(problems) == MAX_ERRORS
