"""Generated families of cases: matrices over the catalogue, and seeded samples of mutations.

A generator takes its ``[[family]]`` entry and a `random.Random` seeded from the
suite's seed and the family's id, and yields case tables of the same form as a
hand-written ``[[case]]``. Candidates are always enumerated in a fixed order
before the generator draws from them, so a seed gives the same suite on every
machine and Python version.
"""

from __future__ import annotations

import itertools
import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from lxml import etree

from conformance import sample
from conformance.suite import spec
from conformance.suite.edits import namespaces, path_of
from conformance.suite.signatures import CANONICALIZATIONS
from gateway.envelope import FUNCTION_NAMES, content_element

CaseTable = dict[str, Any]
OVERLONG = 4097  # longer than any bounded string of the schemas (the longest is a 2048-character URL)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass(frozen=True)
class Family:
    """A ``[[family]]`` entry: its texts are templates over the variables its generator names."""

    id: str
    generator: str
    title: str
    checks: str
    why: str
    tags: tuple[str, ...]
    count: int = 1  # for sampled families: how many cases per document type (or in all)

    def case(self, suffix: str, variables: dict[str, str], tags: tuple[str, ...] = (), **step: Any) -> CaseTable:
        return {
            "id": f"{self.id}.{suffix}".lower(),
            "title": self.title.format(**variables),
            "checks": self.checks.format(**variables),
            "why": self.why.format(**variables),
            "tags": [*self.tags, *tags],
            **step,
        }


ACCEPTED = {"outcome": "accepted"}


def rejected(*codes: str) -> dict[str, Any]:
    return {"outcome": "rejected", "codes": list(codes)}


def valid_documents(family: Family, rng: random.Random) -> Iterator[CaseTable]:
    """Every document type with every function code the catalogue allows it: accepted."""
    for document in spec.documents().values():
        for function in document.functions:
            yield _with_function(family, document.name, function, ACCEPTED)


def allowed_roles(family: Family, rng: random.Random) -> Iterator[CaseTable]:
    """Every document type from a party of every role allowed to send it: accepted."""
    for document in spec.documents().values():
        for role in sorted(document.senders):
            yield family.case(
                f"{document.name}.{role}",
                {"document_type": document.name, "role": role},
                (document.name,),
                sample=document.name,
                sender={"role": role},
                expect=ACCEPTED,
            )


def refused_roles(family: Family, rng: random.Random) -> Iterator[CaseTable]:
    """Every document type from a party of every role not allowed to send it: ROLE_NOT_PERMITTED."""
    for document in spec.documents().values():
        for role in spec.ALL_ROLES:
            if role in document.senders:
                continue
            yield family.case(
                f"{document.name}.{role}",
                {"document_type": document.name, "role": role},
                (document.name,),
                sample=document.name,
                sender={"role": role, "allowed": False},
                expect=rejected("ROLE_NOT_PERMITTED"),
            )


def functions_not_allowed(family: Family, rng: random.Random) -> Iterator[CaseTable]:
    """Every document type with every function code it does not allow: FUNCTION_NOT_ALLOWED."""
    for document in spec.documents().values():
        for function in spec.FUNCTIONS:
            if function in document.functions:
                continue
            yield _with_function(family, document.name, function, rejected("FUNCTION_NOT_ALLOWED"))


def _with_function(family: Family, document_type: str, function: str, expect: dict[str, Any]) -> CaseTable:
    """The sample of `document_type` with Subject/function set to `function`."""
    variables = {"document_type": document_type, "function": function, "function_name": FUNCTION_NAMES[function]}
    return family.case(
        f"{document_type}.f{function}", variables, (document_type,), sample=document_type, function=function, expect=expect
    )


def payload_mutations(family: Family, rng: random.Random) -> Iterator[CaseTable]:
    """Per document type, `count` payload elements (all, if fewer) drawn at random, each broken so the XSD refuses it.

    The breakages are invalid whatever the element's type: a value longer than
    any bounded type allows, an empty value (every type has a minimum length, a
    pattern or a number), and an element the content model does not have.
    """
    mutations = ("overlong", "empty", "unexpected")
    for document in spec.documents().values():
        root = _sample(document.name)
        for index, leaf in enumerate(_draw(rng, _payload_leaves(root), family.count)):
            mutation = mutations[index % len(mutations)]
            path = path_of(leaf)
            if mutation == "overlong":
                edit = {"set": path, "fill": OVERLONG}
            elif mutation == "empty":
                edit = {"set": path, "value": ""}
            else:
                parent = leaf.getparent()
                prefix = {ns: p for p, ns in namespaces(root).items()}[etree.QName(parent).namespace]
                edit = {"append": path_of(parent), "element": f"{prefix}:conformanceUnexpected", "value": "x"}
            variables = {
                "document_type": document.name,
                "path": edit.get("set") or edit["append"],
                "mutation": mutation,
            }
            yield family.case(
                f"{document.name}.{index + 1}-{mutation}",
                variables,
                (document.name,),
                sample=document.name,
                edits=[edit],
                expect=rejected("PAYLOAD_SCHEMA_INVALID"),
            )


def tampered_payload(family: Family, rng: random.Random) -> Iterator[CaseTable]:
    """Per document type, `count` payload texts drawn at random, one character changed after signing."""
    for document in spec.documents().values():
        for index, leaf in enumerate(_draw(rng, _payload_leaves(_sample(document.name)), family.count)):
            text = leaf.text.strip()
            position = rng.randrange(len(text))
            forged = text[:position] + _other_character(text[position], rng) + text[position + 1 :]
            variables = {"document_type": document.name, "path": path_of(leaf), "original": text, "forged": forged}
            yield family.case(
                f"{document.name}.{index + 1}",
                variables,
                (document.name,),
                sample=document.name,
                after_signing=[{"set": path_of(leaf), "value": forged}],
                expect=rejected("SIGNATURE_DIGEST_MISMATCH"),
            )


def signature_variants(family: Family, rng: random.Random) -> Iterator[CaseTable]:
    """`count` combinations, drawn at random, of what the profile allows: each must verify.

    SignedInfo's canonicalisation, the reference's (none: the XML-DSig default),
    the signature hash and the digest; the document type rotates over the catalogue.
    """
    reference_c14n = ("none", *CANONICALIZATIONS)
    strong = ("sha256", "sha384", "sha512")
    combinations = list(itertools.product(CANONICALIZATIONS, reference_c14n, strong, strong))
    documents = list(spec.documents())
    for index, (c14n, reference, method, digest) in enumerate(rng.sample(combinations, family.count)):
        transforms = ["enveloped"] if reference == "none" else ["enveloped", reference]
        document_type = documents[index % len(documents)]
        variables = {
            "c14n": c14n,
            "reference": reference,
            "method": method,
            "digest": digest,
            "document_type": document_type,
        }
        yield family.case(
            f"{c14n}.{reference}.{method}.{digest}",
            variables,
            (document_type,),
            sample=document_type,
            signature={"c14n": c14n, "transforms": transforms, "method": method, "digest": digest},
            expect=ACCEPTED,
        )


def _sample(document_type: str) -> etree._Element:
    return etree.parse(str(sample(document_type).file), _PARSER).getroot()


def _payload_leaves(root: etree._Element) -> list[etree._Element]:
    """The payload's elements that hold text and no element, in document order."""
    payload = content_element(root)
    assert payload is not None, "every sample has a payload"
    return [e for e in payload.iter(etree.Element) if len(e) == 0 and (e.text or "").strip()]


def _draw(rng: random.Random, population: list[etree._Element], count: int) -> list[etree._Element]:
    """`count` distinct elements at random (all of them when there are fewer)."""
    return rng.sample(population, min(count, len(population)))


def _other_character(character: str, rng: random.Random) -> str:
    """A different character of the same kind (digit, lower- or upper-case letter), else a letter."""
    for alphabet in (string.digits, string.ascii_lowercase, string.ascii_uppercase):
        if character in alphabet:
            return rng.choice(alphabet.replace(character, ""))
    return rng.choice(string.ascii_letters)


GENERATORS: dict[str, Callable[[Family, random.Random], Iterator[CaseTable]]] = {
    "valid_documents": valid_documents,
    "allowed_roles": allowed_roles,
    "refused_roles": refused_roles,
    "functions_not_allowed": functions_not_allowed,
    "payload_mutations": payload_mutations,
    "tampered_payload": tampered_payload,
    "signature_variants": signature_variants,
}
