"""Identities of a run: who is chosen to send, what is made up, and what is reported missing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from support import REPO

from conformance.suite.identities import UNREGISTERED_PARTY, Credentials, Party
from conformance.suite.model import SenderSpec, Unavailable
from gateway.signing.keys import SigningIdentity, load_certificates

from ..conftest import PRIMARY, SUSPENDED, SuiteIdentities


@pytest.fixture(scope="module")
def credentials(suite_identities: SuiteIdentities) -> Credentials:
    return suite_identities.credentials()


@pytest.fixture(scope="module")
def anchor(suite_identities: SuiteIdentities) -> x509.Certificate:
    return load_certificates(suite_identities.ca)[0]


def alone(suite_identities: SuiteIdentities, roles: tuple[str, ...] = ("logistics",)) -> Credentials:
    """The primary party only, as a partner with nothing but its own key runs the suite."""
    return Credentials.load(
        PRIMARY, suite_identities.key(PRIMARY), suite_identities.cert(PRIMARY), suite_identities.ca, roles
    )


def test_the_primary_party_sends_what_it_may(credentials: Credentials) -> None:
    assert credentials.sender(SenderSpec(), "ECOM_ORDER") == PRIMARY


def test_the_samples_own_sender_is_preferred(credentials: Credentials) -> None:
    assert credentials.sender(SenderSpec(), "ECOM_ORDER", preferred="0101234567") == "0101234567"
    assert credentials.sender(SenderSpec(), "POLICY_NOTICE", preferred="0101234567") == "BCT"  # not allowed: next


@pytest.mark.parametrize(
    ("wanted", "document_type", "chosen"),
    [
        (SenderSpec(role="customs", allowed=False), "ECOM_ORDER", "HQHCM"),  # never the gateway itself
        (SenderSpec(role="operator", allowed=False), "ECOM_ORDER", "OPS"),
        (SenderSpec(role="trader"), "ECOM_DECLARATION", "0312345678"),
        (SenderSpec(status="suspended", allowed=None), "ECOM_ORDER", SUSPENDED),
    ],
)
def test_a_sender_is_chosen_by_role_permission_and_status(
    credentials: Credentials, wanted: SenderSpec, document_type: str, chosen: str
) -> None:
    assert credentials.sender(wanted, document_type) == chosen


def test_a_missing_sender_is_unavailable_with_the_reason(suite_identities: SuiteIdentities) -> None:
    with pytest.raises(Unavailable, match="role ministry that may send INSPECTION_RESULT.*--identities"):
        alone(suite_identities).sender(SenderSpec(role="ministry"), "INSPECTION_RESULT")


def test_claims(credentials: Credentials, suite_identities: SuiteIdentities) -> None:
    assert credentials.claim(SenderSpec(), PRIMARY) == PRIMARY
    assert credentials.claim(SenderSpec(claim="unregistered"), PRIMARY) == UNREGISTERED_PARTY
    other = credentials.claim(SenderSpec(claim="other-party"), PRIMARY)
    assert other not in (PRIMARY, credentials.gateway_id) and credentials.parties[other].status == "active"
    with pytest.raises(Unavailable, match="--parties"):
        alone(suite_identities).claim(SenderSpec(claim="other-party"), PRIMARY)


def test_another_partys_identity_is_a_real_registered_one(credentials: Credentials) -> None:
    other = credentials.signer("other-party", PRIMARY)
    assert other.certificate != credentials.identities[PRIMARY].certificate
    assert other in credentials.identities.values()


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except Exception:  # noqa: BLE001 - any failure means "not issued by it"
        return False
    return True


def test_generated_credentials_are_what_they_claim(credentials: Credentials, anchor: x509.Certificate) -> None:
    sender = credentials.identities[PRIMARY]
    foreign = credentials.signer("foreign-ca", PRIMARY)
    assert not issued_by(foreign.certificate, anchor) and foreign.key_type == sender.key_type
    self_signed = credentials.signer("self-signed", PRIMARY)
    assert self_signed.private_key is sender.private_key and issued_by(self_signed.certificate, self_signed.certificate)
    weak = credentials.signer("rsa-1024", PRIMARY).private_key
    assert isinstance(weak, rsa.RSAPrivateKey) and weak.key_size == 1024
    for kind, curve in (("ec-p521", ec.SECP521R1), ("ec-secp256k1", ec.SECP256K1)):
        key = credentials.signer(kind, PRIMARY).private_key
        assert isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, curve)
    assert credentials.signer("foreign-ca", PRIMARY) is foreign  # made once per run


def test_credentials_minted_by_the_anchor_are_wrong_in_one_way_only(
    credentials: Credentials, anchor: x509.Certificate
) -> None:
    now = dt.datetime.now(dt.UTC)
    expired = credentials.signer("expired", PRIMARY).certificate
    assert issued_by(expired, anchor) and expired.not_valid_after_utc < now
    early = credentials.signer("not-yet-valid", PRIMARY).certificate
    assert issued_by(early, anchor) and early.not_valid_before_utc > now + dt.timedelta(days=1)
    ca_certificate = credentials.signer("not-for-signing", PRIMARY).certificate
    usage = ca_certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert issued_by(ca_certificate, anchor) and not usage.digital_signature and usage.key_cert_sign
    chained: SigningIdentity = credentials.signer("via-intermediate", PRIMARY)
    (intermediate,) = chained.intermediates
    assert issued_by(chained.certificate, intermediate) and issued_by(intermediate, anchor)
    assert not issued_by(chained.certificate, anchor)


def test_without_the_anchors_key_minting_is_unavailable(suite_identities: SuiteIdentities) -> None:
    with pytest.raises(Unavailable, match=r"ca\.key\.pem"):
        alone(suite_identities).signer("expired", PRIMARY)


def test_a_fresh_key_is_new_and_of_the_same_kind(credentials: Credentials) -> None:
    sender = credentials.identities[PRIMARY]
    fresh = credentials.fresh_key(sender)
    assert isinstance(fresh, rsa.RSAPrivateKey) and fresh.key_size == sender.private_key.key_size
    assert fresh.public_key().public_numbers() != sender.private_key.public_key().public_numbers()


def test_loading_reads_roles_and_status_from_the_parties_file(credentials: Credentials) -> None:
    assert credentials.parties["BYT"] == Party("BYT", frozenset({"ministry"}))
    assert credentials.parties[SUSPENDED].status == "suspended"
    assert "ca" not in credentials.identities and credentials.anchor is not None


def test_the_primary_partys_roles_must_be_known(suite_identities: SuiteIdentities) -> None:
    with pytest.raises(ValueError, match="--roles"):
        Credentials.load(PRIMARY, suite_identities.key(PRIMARY), suite_identities.cert(PRIMARY))


def test_a_ca_key_that_is_not_the_anchors_is_refused(suite_identities: SuiteIdentities, tmp_path: Path) -> None:
    other_anchor = tmp_path / "other.pem"
    other_anchor.write_bytes(suite_identities.cert("BYT").read_bytes())

    with pytest.raises(ValueError, match="not the key of any certificate"):
        Credentials.load(
            PRIMARY,
            suite_identities.key(PRIMARY),
            suite_identities.cert(PRIMARY),
            other_anchor,
            roles=["logistics"],
            identities_dir=suite_identities.directory,
            parties_file=REPO / "config" / "parties.toml",
        )
