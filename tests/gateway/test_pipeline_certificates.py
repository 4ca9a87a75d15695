"""Certificates in KeyInfo through the intake pipeline: every certificate problem is a certificate error.

A malformed certificate (one that cannot be fully decoded, or whose names or extensions
are malformed), as the signing certificate or as an intermediate, must get a signed
CERTIFICATE_INVALID rejection, never INTERNAL_ERROR; and a weak certificate anywhere on
the path must get CERTIFICATE_CHAIN_WEAK.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import MessageFactory

from conformance import certificate_attacks
from gateway import client
from gateway.pipeline import Pipeline, Transport
from gateway.signing.keys import SigningIdentity, der_of, load_certificates
from gateway.signing.pki import CertificateAuthority

pytestmark = pytest.mark.stores("sqlite")

HTTP = Transport("http")
SENDER = "0309876543"


@pytest.fixture(scope="module")
def test_ca(pki_dir: Path) -> CertificateAuthority:
    """The test PKI's CA (a configured trust anchor), able to issue."""
    key = serialization.load_pem_private_key((pki_dir / "ca.key.pem").read_bytes(), password=None)
    return CertificateAuthority(key, load_certificates(pki_dir / "ca.pem")[0])  # type: ignore[arg-type]


@pytest.fixture
def signed(messages: MessageFactory) -> Callable[[], bytes]:
    return lambda: messages.signed("ECOM_DECLARATION", SENDER)


MALFORMED = {
    "duplicated extension": certificate_attacks.duplicated_extension,
    "non-UTF-8 subject": certificate_attacks.non_utf8_subject,
}


@pytest.mark.parametrize("position", ["leaf", "intermediate"])
@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_a_malformed_certificate_in_key_info_is_a_certificate_error(
    kind: str,
    position: str,
    test_ca: CertificateAuthority,
    identity: Callable[[str], SigningIdentity],
    signed: Callable[[], bytes],
    pipeline: Pipeline,
) -> None:
    signer = identity(SENDER)
    malformed = MALFORMED[kind](test_ca, signer.certificate.public_key())  # the signer's own key: the signature verifies
    chain = [malformed] if position == "leaf" else [der_of(signer.certificate), malformed]

    outcome = pipeline.submit(certificate_attacks.with_key_info_certificates(signed(), chain), HTTP)

    assert (outcome.status, outcome.codes) == (403, ("CERTIFICATE_INVALID",))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_certificates_never_give_an_internal_error(
    data: st.DataObject,
    identity: Callable[[str], SigningIdentity],
    signed: Callable[[], bytes],
    pipeline: Pipeline,
) -> None:
    """Random damage to the DER of the signing certificate (or of an extra intermediate): never a 500.

    A damaged signing certificate is always refused (4xx); a damaged extra certificate that
    still decodes may simply be unused by the path, so the message may then be accepted."""
    certificate = der_of(identity(SENDER).certificate)
    original = bytearray(certificate)
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        at = data.draw(st.integers(0, len(original) - 1), label="at")
        edit = data.draw(st.sampled_from(["replace", "insert", "delete", "truncate"]), label="edit")
        if edit == "replace":
            original[at] = data.draw(st.integers(0, 255), label="byte")
        elif edit == "insert":
            original[at:at] = data.draw(st.binary(min_size=1, max_size=8), label="bytes")
        elif edit == "delete" and len(original) > 1:
            del original[at]
        elif edit == "truncate":
            del original[max(at, 1) :]
    mutated = bytes(original)
    as_intermediate = data.draw(st.booleans(), label="as intermediate")
    chain = [certificate, mutated] if as_intermediate else [mutated]

    outcome = pipeline.submit(certificate_attacks.with_key_info_certificates(signed(), chain), HTTP)

    assert outcome.status < 500 and "INTERNAL_ERROR" not in outcome.codes, outcome.codes
    if not as_intermediate and mutated != certificate:
        assert 400 <= outcome.status < 500, outcome.codes


@pytest.mark.parametrize("attack", [certificate_attacks.weak_intermediate, certificate_attacks.weak_hash_intermediate])
def test_a_weak_intermediate_is_refused_with_its_own_code(
    attack: Callable[..., SigningIdentity], test_ca: CertificateAuthority, messages: MessageFactory, pipeline: Pipeline
) -> None:
    signer = attack(test_ca, "Sai Gon Express (weak chain)", SENDER)
    body = client.sign(messages.envelope("ECOM_DECLARATION", SENDER), signer)

    outcome = pipeline.submit(body, HTTP)

    assert outcome.status == 403 and "CERTIFICATE_CHAIN_WEAK" in outcome.codes, outcome.codes


def test_an_unregistered_certificate_is_refused_before_the_document_is_digested(
    messages: MessageFactory, pipeline: Pipeline
) -> None:
    """A changed document signed with a certificate nobody registered: the certificate is refused,
    and the changed content is never reached (it would be SIGNATURE_DIGEST_MISMATCH)."""
    stranger = CertificateAuthority.create("Nobody's CA").issue("Stranger", "NOBODY", "ec-p256")
    body = client.sign(messages.envelope("ECOM_DECLARATION", SENDER), stranger)
    changed = body.replace(b"</Envelope>", b"<!-- --></Envelope>").replace(b"<Body>", b"<Body> ", 1)

    outcome = pipeline.submit(changed, HTTP)

    assert outcome.codes == ("CERTIFICATE_UNTRUSTED", "CERTIFICATE_NOT_REGISTERED")
