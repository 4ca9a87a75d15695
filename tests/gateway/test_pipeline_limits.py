"""Bounded work before authentication: shapes that cost CPU are refused while parsing, each with its own code.

The first test gives each structural limit its signed rejection. The second measures the CPU
time (time.process_time, the whole process) that the intake pipeline spends, in process, on
each expensive shape the attack corpus used, sized up to the body limit, and on the worst
shape the limits still allow (everything at its limit, a replayed registered certificate so
that canonicalisation and digest really run): none may cost more than about a second.
Run with `-s` to see the figures (README, security section).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from support import GATEWAY_ID, MessageFactory

from conformance import certificate_attacks, shape_attacks
from gateway import client
from gateway.pipeline import Pipeline, Transport
from gateway.services import Services
from gateway.signing.keys import SigningIdentity

pytestmark = pytest.mark.stores("sqlite")

HTTP = Transport("http")
SENDER = "0309876543"
MAX_CPU_S = 1.0


def on_root(body: bytes, count: int) -> bytes:
    return shape_attacks.many_namespace_declarations(body, count)


def with_prefix_list(body: bytes, count: int, default: bool = False) -> bytes:
    """The Reference's exclusive c14n transform given a PrefixList of `count` prefixes (the first `#default`)."""
    listed = shape_attacks.long_prefix_list(body, count)
    return listed.replace(b'PrefixList="p0', b'PrefixList="#default', 1) if default else listed


def inclusive_signature(body: bytes) -> bytes:
    """The Reference without its c14n transform: inclusive C14N 1.0, where every namespace is inherited."""
    return re.sub(rb'<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"\s*/>', b"", body, count=1)


@dataclass(frozen=True)
class Shape:
    name: str
    build: Callable[[bytes, SigningIdentity], bytes]
    codes: tuple[str, ...]


REFUSED = [
    Shape("1,000,000 elements", lambda body, _: shape_attacks.many_elements(body, 1_000_000), ("XML_ELEMENTS_LIMIT",)),
    Shape(
        "120,000 attributes on one element",
        lambda body, _: shape_attacks.many_attributes(body, 120_000),
        ("XML_ATTRIBUTES_LIMIT",),
    ),
    Shape(
        "100,000 unused namespace declarations on a signed envelope",
        lambda body, _: on_root(body, 100_000),
        ("XML_NAMESPACES_LIMIT",),
    ),
    Shape(
        "namespaces inherited by many elements under inclusive C14N",
        lambda body, _: shape_attacks.deep_namespace_scope(inclusive_signature(on_root(body, 15)), 40, 45_000),
        ("XML_NAMESPACES_IN_SCOPE_LIMIT",),
    ),
    Shape(
        "a PrefixList of 400 prefixes over 45,000 elements",
        lambda body, _: shape_attacks.many_elements(with_prefix_list(on_root(body, 15), 400), 45_000),
        ("SIGNATURE_PROFILE",),
    ),
    Shape(
        "a 1 MiB certificate in KeyInfo",
        lambda body, signer: certificate_attacks.large_in_key_info(body, signer, 1024 * 1024),
        ("CERTIFICATE_TOO_LARGE",),
    ),
]

ALLOWED_WORST = [
    Shape(
        "at every limit: 32 namespaces in scope, inclusive C14N, 49,000 elements of 64 attributes",
        lambda body, _: shape_attacks.before_signature(
            inclusive_signature(on_root(body, 15)),
            b"<n" + shape_attacks.namespace_declarations(16, 100) + b">"
            + (b"<e " + b" ".join(b'a%d=""' % n for n in range(64)) + b"/>") * 1_000
            + b"<e/>" * 48_000 + b"</n>",
        ),
        ("SIGNATURE_DIGEST_MISMATCH",),
    ),
    Shape(
        "at every limit: a PrefixList of 16 prefixes over 49,000 elements, 32 namespaces in scope",
        lambda body, _: shape_attacks.before_signature(
            with_prefix_list(on_root(body, 15), 16),
            b"<n" + shape_attacks.namespace_declarations(16, 100) + b">" + b"<e/>" * 49_000 + b"</n>",
        ),
        ("SIGNATURE_DIGEST_MISMATCH",),
    ),
    Shape(
        "at every limit: a PrefixList with #default (the Python canonicalisation), 49,000 elements of 64 attributes",
        lambda body, _: shape_attacks.before_signature(
            with_prefix_list(on_root(body, 15), 16, default=True),
            b"<n" + shape_attacks.namespace_declarations(16, 100) + b">"
            + (b"<e " + b" ".join(b'a%d=""' % n for n in range(64)) + b"/>") * 1_000
            + b"<e/>" * 48_000 + b"</n>",
        ),
        ("SIGNATURE_DIGEST_MISMATCH",),
    ),
]


def cpu_seconds(action: Callable[[], object]) -> tuple[float, object]:
    started = time.process_time()
    result = action()
    return time.process_time() - started, result


@pytest.mark.parametrize("shape", REFUSED + ALLOWED_WORST, ids=lambda shape: shape.name)
def test_an_expensive_shape_costs_less_than_a_second_of_cpu_and_gets_its_own_signed_rejection(
    shape: Shape,
    messages: MessageFactory,
    identity: Callable[[str], SigningIdentity],
    pipeline: Pipeline,
    services: Services,
) -> None:
    body = shape.build(messages.signed("ECOM_DECLARATION", SENDER), identity(SENDER))
    assert len(body) <= services.settings.http.max_body_bytes

    seconds, outcome = cpu_seconds(lambda: pipeline.submit(body, HTTP))

    print(f"\n{shape.name}: {len(body):,} bytes, {seconds:.3f} s CPU, {outcome.codes}")
    assert outcome.codes == shape.codes
    receipt = client.read_receipt(outcome.receipt, services.trust, client.certificate_der(services.settings.party_cert(GATEWAY_ID)))
    assert (receipt.status, receipt.codes[:1]) == ("REJECTED", shape.codes)
    assert seconds < MAX_CPU_S, f"{shape.name} cost {seconds:.2f} s of CPU"
