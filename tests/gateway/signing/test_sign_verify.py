"""Round trips through the gateway's own signer and verifier.

Every key kind the profile allows signs every sample envelope; documents with
prefixes, default and unused namespace declarations, Vietnamese text, comments and
whitespace around the signature verify; the verifier hands back the very tree it
was given and leaves it byte-for-byte as it was (the enveloped-signature transform
is undone), whether it accepts or rejects.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from conformance import SAMPLES_DIR
from gateway import client, xmlsafe
from gateway.errors import ErrorCode
from gateway.exceptions import Rejected
from gateway.signing.keys import SigningIdentity, der_of
from gateway.signing.pki import CertificateAuthority, issue_certificate, name, new_key
from gateway.signing.sign import serialize, sign_bytes, sign_envelope
from gateway.signing.verify import verify_envelope

DSIG = "http://www.w3.org/2000/09/xmldsig#"
SIGNATURE = f"{{{DSIG}}}Signature"
KEY_INFO = f"{{{DSIG}}}KeyInfo"
X509_DATA = f"{SIGNATURE}/{{{DSIG}}}KeyInfo/{{{DSIG}}}X509Data"
X509_CERTIFICATE = f"{X509_DATA}/{{{DSIG}}}X509Certificate"
EXPECTED_METHOD = {
    "rsa": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "ec": "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
}
KINDS = ["rsa-2048", "rsa-3072", "ec-p256", "ec-p384"]
SAMPLE_FILES = sorted(SAMPLES_DIR.glob("*.xml"))


def snapshot(root: etree._Element) -> bytes:
    return etree.tostring(root.getroottree(), encoding="UTF-8")


def rejection_code(root: etree._Element, **kwargs: object) -> ErrorCode:
    with pytest.raises(Rejected) as caught:
        verify_envelope(root, **kwargs)
    return caught.value.problems[0].code


def move_signature(root: etree._Element, after: int | None, split: int) -> None:
    """Move the (last-child) signature elsewhere among the root's children without changing
    what it signs: it goes after child `after` (or first, when None), cutting the text that
    follows that child (or the root's leading text) at `split`; the rest becomes its tail.
    With the signature taken out again, the document is exactly the one that was signed."""
    signature = root.find(SIGNATURE)
    assert signature is not None and signature.tail is None
    root.remove(signature)
    if after is None:
        text = root.text or ""
        root.text = text[:split] or None
        root.insert(0, signature)
    else:
        previous = root[after]
        text = previous.tail or ""
        previous.tail = text[:split] or None
        root.insert(after + 1, signature)
    signature.tail = text[split:] or None


# --- every sample, every key kind ----------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sample", SAMPLE_FILES, ids=lambda p: p.stem)
def test_every_sample_round_trips_with_every_key_kind(
    sample: Path, kind: str, identity_of: Callable[..., SigningIdentity]
) -> None:
    signer = identity_of(kind)
    data = client.sign(client.load_envelope(sample), signer)

    root = xmlsafe.parse(data)
    before = snapshot(root)
    verified = verify_envelope(root)

    assert verified.root is root
    assert verified.certificate == signer.certificate
    assert verified.certificate_der == der_of(signer.certificate)
    assert verified.intermediates == ()
    assert verified.algorithm == EXPECTED_METHOD[kind.split("-")[0]]
    assert snapshot(root) == before
    # The signature is the envelope's last child; what precedes it is the pretty-printed sample.
    assert root[-1].tag == SIGNATURE
    assert root[-2].tail == "\n"


@pytest.mark.parametrize("kind", KINDS)
def test_the_signed_tree_in_memory_verifies_without_a_reparse(
    kind: str, identity_of: Callable[..., SigningIdentity]
) -> None:
    root = client.load_envelope(SAMPLES_DIR / "ECOM_ORDER.xml")
    signed = sign_envelope(root, identity_of(kind))
    before = snapshot(root)

    assert signed is root
    assert verify_envelope(root).root is root
    assert snapshot(root) == before


def test_sign_bytes_matches_signing_the_parsed_tree(identity_of: Callable[..., SigningIdentity]) -> None:
    signer = identity_of("ec-p256")
    data = sign_bytes((SAMPLES_DIR / "RISK_ALERT.xml").read_bytes(), signer)

    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert verify_envelope(xmlsafe.parse(data)).certificate == signer.certificate


def test_signing_an_already_signed_envelope_is_refused(identity_of: Callable[..., SigningIdentity]) -> None:
    root = sign_envelope(client.load_envelope(SAMPLES_DIR / "RECEIPT.xml"), identity_of("ec-p256"))

    with pytest.raises(ValueError, match="already signed"):
        sign_envelope(root, identity_of("rsa-2048"))
    assert len(root.findall(SIGNATURE)) == 1


# --- namespaces, non-ASCII text, odd but legal layouts ----------------------------------

DOCUMENTS = {
    "prefixed-root": (
        '<env:Envelope xmlns:env="urn:customs.gov.vn:ecom:envelope:1">\n'
        "  <env:Header><env:identity>0101234567</env:identity></env:Header>\n"
        "  <env:Body><env:Content>x</env:Content></env:Body>\n"
        "</env:Envelope>"
    ),
    "default-namespace-with-nested-defaults": (
        '<Envelope xmlns="urn:customs.gov.vn:ecom:envelope:1">\n'
        '  <Body><Content><Order xmlns="urn:customs.gov.vn:ecom:order:1">'
        '<x:note xmlns:x="urn:x" xmlns="">không dấu</x:note></Order></Content></Body>\n'
        "</Envelope>"
    ),
    "unused-declarations-on-the-root": (
        '<Envelope xmlns="urn:customs.gov.vn:ecom:envelope:1" xmlns:unused="urn:unused"'
        ' xmlns:cm="urn:customs.gov.vn:ecom:common:1" xmlns:ds="http://www.w3.org/2000/09/xmldsig#">\n'
        '  <Body cm:lang="vi"><Content>x</Content></Body>\n'
        "</Envelope>"
    ),
    "prefixed-root-with-unused-default-namespace": (
        '<e:Envelope xmlns:e="urn:customs.gov.vn:ecom:envelope:1" xmlns="urn:nobody-uses-this">\n'
        "  <e:Body>x</e:Body>\n"
        "</e:Envelope>"
    ),
    "vietnamese-text-and-attributes": (
        '<Envelope xmlns="urn:customs.gov.vn:ecom:envelope:1" xml:lang="vi">\n'
        '  <Body note="Hàng hoá nhập khẩu – điện thoại &amp; phụ kiện">'
        "Nguyễn Thị Minh Anh, Số 18 Đường Lê Thánh Tôn, Thành phố Hồ Chí Minh 🇻🇳"
        "</Body>\n"
        "</Envelope>"
    ),
    "comments-and-character-references": (
        "<!-- a comment before the root -->\n"
        '<Envelope xmlns="urn:customs.gov.vn:ecom:envelope:1">'
        "<!-- first child is a comment -->\n"
        '  <Body a="tab&#9;newline&#10;cr&#13;">line one&#13;\nline two &lt;&gt;&amp; "quoted"</Body>'
        "\n  <!-- trailing comment -->\n"
        "</Envelope>\n<!-- and one after it -->"
    ),
    "mixed-content-root": (
        '<Envelope xmlns="urn:customs.gov.vn:ecom:envelope:1">leading text<Body>x</Body>trailing text</Envelope>'
    ),
    "empty-root": '<Envelope xmlns="urn:customs.gov.vn:ecom:envelope:1"/>',
}


@pytest.mark.parametrize("kind", ["rsa-2048", "ec-p384"])
@pytest.mark.parametrize("document", sorted(DOCUMENTS))
def test_documents_with_namespaces_and_non_ascii_text_round_trip(
    document: str, kind: str, identity_of: Callable[..., SigningIdentity]
) -> None:
    data = client.sign(xmlsafe.parse(DOCUMENTS[document].encode("utf-8")), identity_of(kind))

    root = xmlsafe.parse(data)
    before = snapshot(root)
    assert verify_envelope(root).root is root
    assert snapshot(root) == before


def test_non_ascii_text_is_signed_not_just_carried(identity_of: Callable[..., SigningIdentity]) -> None:
    data = client.sign(xmlsafe.parse(DOCUMENTS["vietnamese-text-and-attributes"].encode()), identity_of("ec-p256"))
    # One diacritic changed: "Thị" -> "Thi" (a homoglyph-style edit a naive ASCII folding would miss).
    tampered = data.replace("Thị".encode(), b"Thi")
    assert tampered != data

    assert rejection_code(xmlsafe.parse(tampered)) is ErrorCode.SIGNATURE_DIGEST_MISMATCH


# Where the signature sits among the root's children, and what surrounds it.
# (after, split): see move_signature.
LAYOUT_SOURCE = (
    '<Envelope xmlns="urn:customs.gov.vn:ecom:envelope:1">\n'
    "  <Header>h</Header>\n"
    "  <!-- the body follows -->\n"
    "  <Body>b</Body>\n"
    "</Envelope>"
)
LAYOUTS = {
    "last-child-no-tail": None,
    "first-child-followed-by-whitespace": (None, 0),
    "inside-the-leading-whitespace": (None, 1),
    "after-the-header-within-whitespace": (0, 1),
    "preceded-by-a-comment-followed-by-whitespace": (1, 0),
    "preceded-by-a-comment-and-whitespace": (1, 3),
    "after-the-body-followed-by-the-closing-newline": (2, 0),
}


def signed_with_layout(layout: str, signer: SigningIdentity) -> etree._Element:
    root = xmlsafe.parse(LAYOUT_SOURCE.encode())
    sign_envelope(root, signer)
    if LAYOUTS[layout] is not None:
        move_signature(root, *LAYOUTS[layout])
    return xmlsafe.parse(serialize(root))


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_whitespace_and_comments_around_the_signature_are_kept_by_the_transform(
    layout: str, identity_of: Callable[..., SigningIdentity]
) -> None:
    root = signed_with_layout(layout, identity_of("ec-p256"))
    before = snapshot(root)

    assert verify_envelope(root).root is root
    assert snapshot(root) == before


# The layouts in which the signature has a tail.
TAILED_LAYOUTS = [
    "first-child-followed-by-whitespace",
    "inside-the-leading-whitespace",
    "after-the-header-within-whitespace",
    "preceded-by-a-comment-followed-by-whitespace",
    "after-the-body-followed-by-the-closing-newline",
]


@pytest.mark.parametrize("layout", TAILED_LAYOUTS)
def test_the_text_after_the_signature_is_signed(layout: str, identity_of: Callable[..., SigningIdentity]) -> None:
    """The enveloped transform removes the Signature element only: its tail is document text."""
    root = signed_with_layout(layout, identity_of("ec-p256"))
    signature = root.find(SIGNATURE)
    assert signature.tail and not signature.tail.strip()
    signature.tail += " "
    before = snapshot(root)

    assert rejection_code(root) is ErrorCode.SIGNATURE_DIGEST_MISMATCH
    assert snapshot(root) == before


def test_the_text_before_the_signature_is_signed(identity_of: Callable[..., SigningIdentity]) -> None:
    root = signed_with_layout("preceded-by-a-comment-and-whitespace", identity_of("ec-p256"))
    comment = root.find(SIGNATURE).getprevious()
    assert isinstance(comment, etree._Comment) and comment.tail == "\n  "
    comment.tail = "\n"

    assert rejection_code(root) is ErrorCode.SIGNATURE_DIGEST_MISMATCH


# --- what the verifier returns -----------------------------------------------------------


def test_intermediates_from_key_info_are_returned_in_order(ca: CertificateAuthority) -> None:
    intermediate_key = new_key("ec-p384")
    intermediate = issue_certificate(
        name("Issuing CA 1"), intermediate_key.public_key(), ca.key, ca.certificate.subject, ca=True
    )
    leaf_key = new_key("rsa-2048")
    leaf = issue_certificate(
        name("Trader", uid="0101234567"), leaf_key.public_key(), intermediate_key, intermediate.subject
    )
    signer = SigningIdentity(leaf_key, leaf, (intermediate, ca.certificate))

    root = xmlsafe.parse(client.sign(client.load_envelope(SAMPLES_DIR / "ECOM_DECLARATION.xml"), signer))
    verified = verify_envelope(root)

    assert verified.certificate == leaf
    assert verified.intermediates == (der_of(intermediate), der_of(ca.certificate))
    embedded = [e.text for e in root.iterfind(X509_CERTIFICATE)]
    assert len(embedded) == 3


def test_the_first_certificate_in_key_info_is_the_signer(
    ca: CertificateAuthority, identity_of: Callable[..., SigningIdentity]
) -> None:
    """A document whose KeyInfo lists a CA first is not verified with the leaf that comes second."""
    signer = identity_of("ec-p256")
    root = xmlsafe.parse(client.sign(client.load_envelope(SAMPLES_DIR / "RISK_ALERT.xml"), signer))
    x509_data = root.find(X509_DATA)
    leaf = x509_data[0]
    x509_data.insert(0, copy.deepcopy(leaf))
    x509_data[0].text = serialization_b64(ca.certificate)

    assert rejection_code(root) is ErrorCode.SIGNATURE_INVALID


def serialization_b64(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def without_key_info(data: bytes) -> etree._Element:
    root = xmlsafe.parse(data)
    signature = root.find(SIGNATURE)
    signature.remove(signature.find(KEY_INFO))
    return xmlsafe.parse(etree.tostring(root))


def test_without_key_info_the_registered_certificate_is_used(identity_of: Callable[..., SigningIdentity]) -> None:
    signer, stranger = identity_of("rsa-2048"), identity_of("rsa-2048", "0309876543")
    root = without_key_info(client.sign(client.load_envelope(SAMPLES_DIR / "ECOM_ORDER.xml"), signer))

    verified = verify_envelope(root, fallback_certificates=[stranger.certificate, signer.certificate])

    assert verified.certificate == signer.certificate
    assert verified.certificate_der == der_of(signer.certificate)
    assert verified.intermediates == ()
    assert rejection_code(root) is ErrorCode.CERTIFICATE_MISSING
    assert rejection_code(root, fallback_certificates=[stranger.certificate]) is ErrorCode.SIGNATURE_INVALID


def test_key_info_takes_precedence_over_registered_certificates(
    identity_of: Callable[..., SigningIdentity],
) -> None:
    """The registered certificates are a fallback, not an override: a wrong embedded
    certificate is not rescued by the right registered one."""
    signer, stranger = identity_of("ec-p256"), identity_of("ec-p256", "0309876543")
    root = xmlsafe.parse(client.sign(client.load_envelope(SAMPLES_DIR / "ECOM_ORDER.xml"), signer))
    root.find(X509_CERTIFICATE).text = serialization_b64(stranger.certificate)

    assert rejection_code(root, fallback_certificates=[signer.certificate]) is ErrorCode.SIGNATURE_INVALID


@pytest.mark.parametrize("first", ["ec-p256", "rsa-1024"])
def test_every_registered_certificate_is_tried(first: str, identity_of: Callable[..., SigningIdentity]) -> None:
    """A party's registered certificate that cannot have made the signature (another key type
    during a key rollover, or a weak key) is skipped, not fatal."""
    signer, other = identity_of("rsa-2048"), identity_of(first)
    root = without_key_info(client.sign(client.load_envelope(SAMPLES_DIR / "ECOM_ORDER.xml"), signer))

    verified = verify_envelope(root, fallback_certificates=[other.certificate, signer.certificate])

    assert verified.certificate == signer.certificate
    # With only the unusable one registered, the signature does not verify.
    assert rejection_code(root, fallback_certificates=[other.certificate]) is ErrorCode.SIGNATURE_INVALID


@pytest.mark.parametrize("kind", ["rsa-1024", "ec-p521", "ec-secp256k1"])
def test_a_weak_key_named_in_key_info_is_reported_as_such(
    kind: str, identity_of: Callable[..., SigningIdentity]
) -> None:
    root = xmlsafe.parse(client.sign(client.load_envelope(SAMPLES_DIR / "RISK_ALERT.xml"), identity_of(kind)))

    assert rejection_code(root) is ErrorCode.KEY_TOO_WEAK


# --- the tree is left as it was ----------------------------------------------------------


def _edit_body(root: etree._Element) -> None:
    root.find("{urn:customs.gov.vn:ecom:envelope:1}Body").text = "changed"


def _flip_signature_value(root: etree._Element) -> None:
    value = root.find(f"{SIGNATURE}/{{{DSIG}}}SignatureValue")
    value.text = ("B" if value.text[0] == "A" else "A") + value.text[1:]


@pytest.mark.parametrize(
    ("layout", "edit", "code"),
    [
        ("preceded-by-a-comment-followed-by-whitespace", _edit_body, ErrorCode.SIGNATURE_DIGEST_MISMATCH),
        ("first-child-followed-by-whitespace", _edit_body, ErrorCode.SIGNATURE_DIGEST_MISMATCH),
        ("inside-the-leading-whitespace", _flip_signature_value, ErrorCode.SIGNATURE_INVALID),
        ("after-the-body-followed-by-the-closing-newline", _flip_signature_value, ErrorCode.SIGNATURE_INVALID),
    ],
)
def test_a_rejected_tree_is_left_byte_identical(
    layout: str,
    edit: Callable[[etree._Element], None],
    code: ErrorCode,
    identity_of: Callable[..., SigningIdentity],
) -> None:
    root = signed_with_layout(layout, identity_of("rsa-2048"))
    edit(root)
    before = snapshot(root)
    signature = root.find(SIGNATURE)

    assert rejection_code(root) is code
    assert snapshot(root) == before
    assert root.find(SIGNATURE) is signature


def test_verification_is_repeatable_on_the_same_tree(identity_of: Callable[..., SigningIdentity]) -> None:
    root = signed_with_layout("preceded-by-a-comment-and-whitespace", identity_of("ec-p384"))
    first = verify_envelope(root)
    second = verify_envelope(root)

    assert first == second


def test_a_certificate_that_is_not_valid_now_still_verifies_cryptographically(
    ca: CertificateAuthority,
) -> None:
    """Validity in time is the trust store's judgement, not the verifier's (see test_trust)."""
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    signer = ca.issue(
        "Old Trader", "0101234567", "ec-p256", not_before=long_ago, not_after=long_ago + dt.timedelta(days=1)
    )
    root = xmlsafe.parse(client.sign(client.load_envelope(SAMPLES_DIR / "RISK_ALERT.xml"), signer))

    assert verify_envelope(root).certificate == signer.certificate
