"""Locations a person can read and a tool can evaluate: line, prefixed XPath, and the prefixes' namespaces."""

from __future__ import annotations

import pytest
from lxml import etree
from support import REPO, evaluate_location

from gateway import client, xmlsafe
from gateway.envelope import ENVELOPE_NS, content_element
from gateway.locations import describe, xpath_of
from gateway.schemas.registry import SchemaRegistry

DECLARATION_NS = "urn:customs.gov.vn:ecom:declaration:1"


def test_default_namespaces_get_readable_prefixes_and_the_path_finds_the_element() -> None:
    root = xmlsafe.parse((REPO / "conformance" / "samples" / "ECOM_DECLARATION.xml").read_bytes())
    second = root.findall(f".//{{{DECLARATION_NS}}}hsCode")[1]

    path, bindings = xpath_of(second)

    assert path == (
        "/env:Envelope/env:Body/env:Content/declaration:Declaration/declaration:items/declaration:item[2]/declaration:hsCode"
    )
    assert bindings == {"env": ENVELOPE_NS, "declaration": DECLARATION_NS}
    assert evaluate_location(describe(second), root) == [second]


def test_prefixes_the_document_declares_are_kept() -> None:
    root = etree.fromstring(
        b'<e:Envelope xmlns:e="urn:x:envelope:1"><e:Body><d:Doc xmlns:d="urn:y:doc:2"><d:v/><d:v/></d:Doc></e:Body></e:Envelope>'
    )
    second = root.findall(".//{urn:y:doc:2}v")[1]
    assert xpath_of(second) == ("/e:Envelope/e:Body/d:Doc/d:v[2]", {"e": "urn:x:envelope:1", "d": "urn:y:doc:2"})


def test_two_namespaces_that_would_take_one_prefix_get_two() -> None:
    root = etree.fromstring(b'<a xmlns="urn:one:doc:1"><b xmlns="urn:two:doc:1"/></a>')
    path, bindings = xpath_of(root[0])
    assert path == "/doc:a/doc2:b" and bindings == {"doc": "urn:one:doc:1", "doc2": "urn:two:doc:1"}


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(())


def test_a_schema_problem_names_the_broken_element_in_readable_terms(registry: SchemaRegistry) -> None:
    envelope = client.load_envelope(REPO / "conformance" / "samples" / "ECOM_DECLARATION.xml")
    envelope.findall(f".//{{{DECLARATION_NS}}}hsCode")[1].text = "39269"
    root = xmlsafe.parse(etree.tostring(envelope))
    broken = root.findall(f".//{{{DECLARATION_NS}}}hsCode")[1]

    (problem,) = registry.validate_payload(registry.get("ECOM_DECLARATION"), content_element(root))  # type: ignore[arg-type]

    assert problem.message.startswith("Element 'declaration:hsCode': [facet 'pattern']")
    assert "{urn:" not in problem.message
    assert problem.location is not None and problem.location.startswith(f"line {broken.sourceline}, /env:Envelope/")
    assert evaluate_location(problem.location, root) == [broken]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<a>" * 300 + b"</a>" * 300, "the document is nested more than 256 elements deep"),
        (b"<a>" + b"x" * 10_000_001 + b"</a>", "a node is larger than 10,000,000 bytes"),
    ],
    ids=["deep", "huge text"],
)
def test_limit_messages_are_the_gateways_own_words(body: bytes, message: str) -> None:
    with pytest.raises(xmlsafe.Rejected) as refused:
        xmlsafe.parse(body)
    (problem,) = refused.value.problems
    assert problem.message == message and "XML_PARSE_HUGE" not in problem.message
