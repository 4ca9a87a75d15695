"""Rotation of the gateway's own key: the next key signs from the configured moment, both certificates are published."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509

from gateway import client, xmlsafe
from gateway.envelope import PartyRef
from gateway.errors import ErrorCode, Problem
from gateway.exceptions import ConfigurationError
from gateway.receipts import ReceiptBuilder
from gateway.signing.keys import SigningIdentity, der_of, load_certificates
from gateway.signing.pki import PartyKeySpec, init_pki
from gateway.signing.rotation import GatewayKeys, finish, own_certificates, published_ders, rotate
from gateway.signing.verify import verify_envelope

GATEWAY = PartyKeySpec("VNECOMGW", "Rotation test gateway", "VN", "ec-p256")
NOW = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    init_pki(tmp_path, [GATEWAY])
    return tmp_path


def test_the_next_key_signs_from_the_configured_moment_and_not_before(pki: Path) -> None:
    made = rotate(pki, GATEWAY)
    keys = GatewayKeys.load(pki, GATEWAY.identity, next_from=NOW)

    assert keys.next is not None and der_of(keys.next.certificate) == der_of(made.certificate)
    assert keys.signer(NOW - dt.timedelta(seconds=1)) is keys.current
    assert keys.signer(NOW) is keys.next
    assert der_of(keys.current.certificate) != der_of(made.certificate)
    ca = load_certificates(pki / "ca.pem")[0]
    assert made.certificate.issuer == ca.subject  # issued by the CA partners already trust


def test_without_next_from_the_current_key_keeps_signing_and_both_certificates_are_published(pki: Path) -> None:
    rotate(pki, GATEWAY)
    keys = GatewayKeys.load(pki, GATEWAY.identity, next_from=None)

    assert keys.signer(NOW + dt.timedelta(days=3650)) is keys.current
    assert keys.next is not None
    published = [der_of(c) for c in _pem_certificates(keys.published())]
    assert published == [der_of(keys.current.certificate), der_of(keys.next.certificate)]


def test_outside_a_rotation_only_the_current_certificate_is_published(pki: Path) -> None:
    keys = GatewayKeys.load(pki, GATEWAY.identity, next_from=None)

    assert [der_of(c) for c in _pem_certificates(keys.published())] == [der_of(keys.current.certificate)]


def test_the_certificates_in_use_are_the_current_one_and_during_a_rotation_the_next(pki: Path) -> None:
    """What `certs list` and the expiry alerts look at, from the files and from the loaded keys alike."""
    before = GatewayKeys.load(pki, GATEWAY.identity, next_from=None)
    assert [der_of(c) for c in own_certificates(pki, GATEWAY.identity)] == [der_of(before.current.certificate)]

    made = rotate(pki, GATEWAY)
    during = GatewayKeys.load(pki, GATEWAY.identity, next_from=None)
    expected = [der_of(before.current.certificate), der_of(made.certificate)]
    assert [der_of(c) for c in own_certificates(pki, GATEWAY.identity)] == expected
    assert [der_of(c) for c in during.certificates()] == expected


def test_receipts_are_signed_by_the_next_key_once_it_has_taken_over(pki: Path) -> None:
    rotate(pki, GATEWAY)
    keys = GatewayKeys.load(pki, GATEWAY.identity, next_from=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    builder = ReceiptBuilder(PartyRef(GATEWAY.identity, GATEWAY.name, GATEWAY.country), keys)

    receipt = builder.rejection(None, None, b"\0" * 32, dt.datetime.now(dt.UTC), (Problem(ErrorCode.XML_MALFORMED, "x"),))

    signature = verify_envelope(xmlsafe.parse(receipt.body))
    assert keys.next is not None and signature.certificate_der == der_of(keys.next.certificate)
    # a client that pins the gateway's certificates (gateway submit, pull) takes it during the overlap
    assert client.read_receipt(receipt.body, None, published_ders(pki, GATEWAY.identity)).status == "REJECTED"
    with pytest.raises(client.ReceiptError, match="registered certificate"):
        client.read_receipt(receipt.body, None, der_of(keys.current.certificate))


def test_a_second_rotation_is_refused_until_the_first_is_finished(pki: Path) -> None:
    rotate(pki, GATEWAY)

    with pytest.raises(ConfigurationError, match="finish that rotation first"):
        rotate(pki, GATEWAY)


def test_finish_makes_the_next_key_current_and_keeps_the_old_pair(pki: Path) -> None:
    old = SigningIdentity.load(pki / "VNECOMGW.key.pem", pki / "VNECOMGW.cert.pem")
    made = rotate(pki, GATEWAY)

    current = finish(pki, GATEWAY.identity)

    assert der_of(current.certificate) == der_of(made.certificate)
    assert der_of(load_certificates(pki / "VNECOMGW.previous.cert.pem")[0]) == der_of(old.certificate)
    assert not (pki / "VNECOMGW.next.key.pem").exists()
    assert GatewayKeys.load(pki, GATEWAY.identity, next_from=None).next is None
    rotate(pki, GATEWAY)  # the next rotation may start


def test_finish_without_a_rotation_and_next_from_without_a_next_key_are_refused(pki: Path) -> None:
    with pytest.raises(ConfigurationError, match="no rotation under way"):
        finish(pki, GATEWAY.identity)
    with pytest.raises(ConfigurationError, match="gateway keys rotate"):
        GatewayKeys.load(pki, GATEWAY.identity, next_from=NOW)


def _pem_certificates(data: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(data)
