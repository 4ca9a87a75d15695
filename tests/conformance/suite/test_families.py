"""The generated families and the schema cases say what the XSDs say, and the sampled families vary as claimed."""

from __future__ import annotations

import pytest
from lxml import etree

from conformance.suite.builder import Builder, Message
from conformance.suite.edits import select
from conformance.suite.manifest import Suite
from conformance.suite.model import Case, Step
from gateway.envelope import content_element, read_header
from gateway.schemas.registry import SchemaRegistry

SCHEMA_CODES = frozenset({"ENVELOPE_SCHEMA_INVALID", "PAYLOAD_SCHEMA_INVALID"})


@pytest.fixture(scope="module")
def schemas() -> SchemaRegistry:
    return SchemaRegistry.load()


def schema_codes(schemas: SchemaRegistry, body: bytes) -> set[str]:
    root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    document = schemas.get(read_header(root).document_type)
    assert document is not None
    problems = schemas.validate_envelope(root) + schemas.validate_payload(document, content_element(root))
    return {problem.code.name for problem in problems}


def judged_by_schema(step: Step) -> bool:
    """A message the schemas alone decide on: built from a sample, not attacked, and accepted or refused by a schema."""
    plain = step.sample is not None and step.attack is None and not step.after_signing and step.operation is None
    return plain and (step.expect.accepted or step.expect.codes <= SCHEMA_CODES)


def test_what_the_suite_expects_of_the_schemas_is_what_they_say(
    suite: Suite, builder: Builder, schemas: SchemaRegistry
) -> None:
    checked = 0
    for case in suite.cases:
        sent: dict[str, Message] = {}
        for prepared in builder.prepare(case):
            message = builder.build(prepared, sent)
            sent[prepared.step.name] = message
            if judged_by_schema(prepared.step):
                found = schema_codes(schemas, message.body)
                assert found == set(prepared.step.expect.codes), (case.id, prepared.step.name, found)
                checked += 1
    assert checked > 150


def family(suite: Suite, name: str) -> list[Case]:
    return [case for case in suite.cases if case.family == name]


def test_each_payload_mutation_breaks_one_drawn_element(suite: Suite) -> None:
    cases = family(suite, "payload-schema")
    mutations = {case.id.rsplit("-", 1)[1] for case in cases}
    assert mutations == {"overlong", "empty", "unexpected"}
    assert all(len(case.steps[0].edits) == 1 for case in cases)


def test_each_tampering_changes_one_character_after_signing(suite: Suite, builder: Builder) -> None:
    for case in family(suite, "tampered"):
        (step,) = case.steps
        (edit,) = step.after_signing
        untouched = Case(
            case.id, case.title, case.checks, case.why, case.tags, (Step(step.name, step.expect, sample=step.sample),)
        )
        (prepared,) = builder.prepare(untouched)
        (element,) = select(etree.fromstring(builder.build(prepared, {}).body), edit.path)
        signed, forged = (element.text or "").strip(), edit.value or ""
        assert len(signed) == len(forged) and sum(a != b for a, b in zip(signed, forged, strict=True)) == 1, case.id


def test_signature_variants_are_distinct_and_use_strong_algorithms(suite: Suite) -> None:
    specs = [case.steps[0].signature for case in family(suite, "signature-variant")]
    assert len(set(specs)) == len(specs) == 16
    assert all(
        spec.method in ("sha256", "sha384", "sha512") and spec.digest in ("sha256", "sha384", "sha512")
        for spec in specs
    )
    assert len({spec.c14n for spec in specs}) > 1 and len({spec.transforms for spec in specs}) > 1
