"""Building messages: signed as the profile says, with fresh ids, from the party the case asks for."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import signxml
from cryptography.hazmat.primitives import serialization
from lxml import etree
from signxml import XMLVerifier

from conformance.suite.builder import Builder, Message
from conformance.suite.model import Case, Expectation, SenderSpec, SignatureSpec, Step, Unavailable
from gateway.envelope import DSIG_NS, qname, read_header
from gateway.signing.keys import SigningIdentity
from gateway.signing.verify import verify_envelope

from ..conftest import PRIMARY, SuiteIdentities

ACCEPTED = Expectation(True)
SUBJECT = f"{qname('Header')}/{qname('Subject')}"


def one_step(**step: object) -> Case:
    return Case("x.case", "t", "c", "w", ("xml",), (Step("message", ACCEPTED, **step),))  # type: ignore[arg-type]


def built(builder: Builder, case: Case) -> list[Message]:
    sent: dict[str, Message] = {}
    for prepared in builder.prepare(case):
        sent[prepared.step.name] = builder.build(prepared, sent)
    return list(sent.values())


def parse(body: bytes) -> etree._Element:
    return etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))


def signxml_verifies(body: bytes, identity: SigningIdentity, **options: object) -> None:
    pem = identity.certificate.public_bytes(serialization.Encoding.PEM)
    XMLVerifier().verify(body, x509_cert=pem, **options)


def test_a_default_step_is_a_profile_signature_by_the_sender(
    builder: Builder, suite_identities: SuiteIdentities
) -> None:
    (message,) = built(builder, one_step(sample="ECOM_DECLARATION"))
    root = parse(message.body)

    verified = verify_envelope(root)
    header = read_header(root)
    identity = suite_identities.credentials().identities[PRIMARY]
    assert verified.certificate == identity.certificate
    assert (header.sender.identity, header.recipient.identity, message.sender) == (PRIMARY, "VNECOMGW", PRIMARY)
    assert header.message_id == message.message_id
    signxml_verifies(message.body, identity)  # an independent implementation agrees


def test_every_build_has_a_fresh_message_id(builder: Builder) -> None:
    case = one_step(sample="ECOM_ORDER")
    ids = {built(builder, case)[0].message_id for _ in range(3)}
    assert len(ids) == 3


def test_steps_reuse_ids_name_earlier_messages_and_resend_bytes(builder: Builder) -> None:
    steps = (
        Step("declare", ACCEPTED, sample="ECOM_DECLARATION", function="01"),
        Step("amend", ACCEPTED, sample="ECOM_DECLARATION", function="02", pre_reference="declare"),
        Step("same-id", ACCEPTED, sample="ECOM_DECLARATION", message_id="declare"),
        Step("again", ACCEPTED, resend="amend"),
    )
    declare, amend, same_id, again = built(builder, Case("x.seq", "t", "c", "w", ("xml",), steps))

    assert parse(amend.body).findtext(f"{SUBJECT}/{qname('preReference')}") == declare.message_id
    assert parse(amend.body).findtext(f"{SUBJECT}/{qname('function')}") == "02"
    assert same_id.message_id == declare.message_id
    assert again.body == amend.body and again.message_id == amend.message_id


@pytest.mark.parametrize(
    "signature",
    [
        SignatureSpec(c14n="inclusive", transforms=("enveloped",)),
        SignatureSpec(c14n="c14n11-comments", transforms=("enveloped", "inclusive-comments"), method="sha512"),
        SignatureSpec(method="sha384", digest="sha512", transforms=("enveloped", "exclusive-comments")),
    ],
)
def test_signature_variants_the_profile_allows_verify(builder: Builder, signature: SignatureSpec) -> None:
    (message,) = built(builder, one_step(sample="ECOM_ORDER", signature=signature))

    verify_envelope(parse(message.body))


def test_a_step_can_be_signed_with_sha1_correctly(builder: Builder, suite_identities: SuiteIdentities) -> None:
    sha1_step = one_step(sample="ECOM_DECLARATION", signature=SignatureSpec(method="sha1", digest="sha1"))
    (message,) = built(builder, sha1_step)
    signed_info = parse(message.body).find(f"{{{DSIG_NS}}}Signature/{{{DSIG_NS}}}SignedInfo")

    assert signed_info.find(f"{{{DSIG_NS}}}SignatureMethod").get("Algorithm").endswith("rsa-sha1")
    sha1 = signxml.SignatureConfiguration(
        signature_methods=frozenset({signxml.SignatureMethod.RSA_SHA1}),
        digest_algorithms=frozenset({signxml.DigestAlgorithm.SHA1}),
    )
    signxml_verifies(message.body, suite_identities.credentials().identities[PRIMARY], expect_config=sha1)


def test_key_substitution_presents_the_senders_certificate_with_another_key(builder: Builder) -> None:
    (message,) = built(builder, one_step(sample="ECOM_ORDER", signature=SignatureSpec(value_key="fresh")))

    with pytest.raises(Exception, match="SIGNATURE_INVALID"):
        verify_envelope(parse(message.body))


def test_a_step_without_key_info_carries_no_certificate(builder: Builder) -> None:
    (message,) = built(builder, one_step(sample="ECOM_ORDER", signature=SignatureSpec(key_info="none")))

    assert parse(message.body).find(f".//{{{DSIG_NS}}}KeyInfo") is None


def test_claims_and_attacks_apply(builder: Builder) -> None:
    (message,) = built(
        builder,
        one_step(sample="ECOM_ORDER", sender=SenderSpec(claim="unregistered"), attack=None, content_type="text/xml"),
    )
    assert read_header(parse(message.body)).sender.identity == "XX-CONFORMANCE-NOBODY"
    assert message.content_type == "text/xml"


def test_an_unavailable_identity_makes_the_whole_case_unavailable(
    case_of: Callable[[str], Case], suite_identities: SuiteIdentities
) -> None:
    lone = Builder(
        type(suite_identities.credentials()).load(
            PRIMARY, suite_identities.key(PRIMARY), suite_identities.cert(PRIMARY), roles=["logistics"]
        )
    )
    with pytest.raises(Unavailable):
        lone.prepare(case_of("duplicate.same-id-other-sender"))  # its second step needs another party
