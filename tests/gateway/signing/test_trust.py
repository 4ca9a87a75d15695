"""The trust store: paths from a signing certificate to a configured anchor.

Certificates are built here with cryptography's CertificateBuilder directly, so that each
test controls exactly the extensions and validity it is about.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.errors import ErrorCode
from gateway.signing.keys import der_of
from gateway.signing.trust import MAX_PATH_LENGTH, TrustStore

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)
MINUTE = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Node:
    """A key and its certificate."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def der(self) -> bytes:
        return der_of(self.certificate)


SIGNING_USAGE = {"digital_signature": True, "content_commitment": True}
CA_USAGE = {"key_cert_sign": True, "crl_sign": True}


def usage(**bits: bool) -> x509.KeyUsage:
    names = (
        "digital_signature content_commitment key_encipherment data_encipherment key_agreement "
        "key_cert_sign crl_sign encipher_only decipher_only"
    ).split()
    return x509.KeyUsage(**{n: bits.get(n, False) for n in names})


def make(
    name: str,
    issuer: Node | None = None,
    *,
    ca: bool | None = False,
    path_length: int | None = None,
    key_usage: dict[str, bool] | None = None,
    not_before: dt.datetime = NOW - DAY,
    not_after: dt.datetime = NOW + 365 * DAY,
    issuer_name: x509.Name | None = None,
) -> Node:
    """A certificate for a new P-256 key, issued by `issuer` (self-signed when None).

    ca=None leaves BasicConstraints out; key_usage=None uses the usual bits for a CA or a
    signer, {} leaves KeyUsage out."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"), x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name or (issuer.certificate.subject if issuer else subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
    bits = key_usage if key_usage is not None else (CA_USAGE if ca else SIGNING_USAGE)
    if bits:
        builder = builder.add_extension(usage(**bits), critical=True)
    return Node(key, builder.sign(issuer.key if issuer else key, hashes.SHA256()))


@pytest.fixture(scope="module")
def root() -> Node:
    return make("Test Root CA", ca=True)


@pytest.fixture(scope="module")
def store(root: Node) -> TrustStore:
    return TrustStore([root.certificate])


def codes(problems: list) -> list[ErrorCode]:
    return [p.code for p in problems]


# --- paths --------------------------------------------------------------------------------


def test_a_leaf_issued_by_the_anchor_is_trusted(root: Node, store: TrustStore) -> None:
    leaf = make("Trader", root)

    assert store.check(leaf.der) == []


def test_an_anchor_used_as_the_signing_certificate_is_trusted(store: TrustStore, root: Node) -> None:
    assert store.check(root.der) == []


@pytest.mark.parametrize("order", ["as-issued", "reversed"])
def test_intermediates_carried_in_key_info_complete_the_path(root: Node, store: TrustStore, order: str) -> None:
    first = make("Issuing CA 1", root, ca=True)
    second = make("Issuing CA 2", first, ca=True)
    leaf = make("Trader", second)
    intermediates = [second.der, first.der] if order == "as-issued" else [first.der, second.der]

    assert store.check(leaf.der, intermediates) == []
    assert codes(store.check(leaf.der, [second.der])) == [ErrorCode.CERTIFICATE_UNTRUSTED]
    assert codes(store.check(leaf.der)) == [ErrorCode.CERTIFICATE_UNTRUSTED]


def test_unrelated_certificates_in_key_info_do_no_harm(root: Node, store: TrustStore) -> None:
    stranger_ca = make("Stranger CA", ca=True)
    leaf = make("Trader", root)

    assert store.check(leaf.der, [stranger_ca.der, make("Other", stranger_ca).der]) == []


def test_a_certificate_from_an_unknown_ca_is_untrusted(store: TrustStore) -> None:
    unknown = make("Unknown CA", ca=True)
    leaf = make("Trader", unknown)

    assert codes(store.check(leaf.der)) == [ErrorCode.CERTIFICATE_UNTRUSTED]
    # Carrying the unknown CA along does not help: it is not an anchor.
    assert codes(store.check(leaf.der, [unknown.der])) == [ErrorCode.CERTIFICATE_UNTRUSTED]


def test_an_impostor_ca_with_the_anchors_name_is_untrusted(root: Node, store: TrustStore) -> None:
    """Same subject name as the anchor, another key: the issuer's signature decides, not the name."""
    impostor = make("Test Root CA", ca=True)
    leaf = make("Trader", impostor)
    assert leaf.certificate.issuer == root.certificate.subject

    assert codes(store.check(leaf.der)) == [ErrorCode.CERTIFICATE_UNTRUSTED]
    assert codes(store.check(leaf.der, [impostor.der])) == [ErrorCode.CERTIFICATE_UNTRUSTED]


def test_every_configured_anchor_counts(tmp_path: Path, root: Node) -> None:
    second_root = make("Second Root CA", ca=True)
    bundle = tmp_path / "anchors.pem"
    bundle.write_bytes(b"".join(n.certificate.public_bytes(serialization.Encoding.PEM) for n in (root, second_root)))
    store = TrustStore.from_files([bundle])

    assert set(store.anchors) == {root.certificate, second_root.certificate}
    assert store.check(make("A", root).der) == []
    assert store.check(make("B", second_root).der) == []


# --- who may issue ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ca", "key_usage"),
    [(False, CA_USAGE), (None, CA_USAGE)],
    ids=["basic-constraints-ca-false", "no-basic-constraints"],
)
def test_an_intermediate_that_is_not_a_ca_cannot_issue(
    root: Node, store: TrustStore, ca: bool | None, key_usage: dict[str, bool]
) -> None:
    not_a_ca = make("Trader Turned Issuer", root, ca=ca, key_usage=key_usage)
    leaf = make("Victim", not_a_ca)

    assert codes(store.check(leaf.der, [not_a_ca.der])) == [ErrorCode.CERTIFICATE_UNTRUSTED]


def test_an_intermediate_without_key_cert_sign_cannot_issue(root: Node, store: TrustStore) -> None:
    signing_only = make("Signing-only CA", root, ca=True, key_usage={"digital_signature": True})
    leaf = make("Trader", signing_only)

    assert codes(store.check(leaf.der, [signing_only.der])) == [ErrorCode.CERTIFICATE_UNTRUSTED]


def test_an_anchor_that_is_not_a_ca_cannot_issue(store: TrustStore) -> None:
    pinned_leaf = make("Pinned Partner", ca=False)
    leaf = make("Issued by the partner", pinned_leaf)
    only_the_leaf = TrustStore([pinned_leaf.certificate])

    assert only_the_leaf.check(pinned_leaf.der) == []  # trusted as itself
    assert codes(only_the_leaf.check(leaf.der)) == [ErrorCode.CERTIFICATE_UNTRUSTED]


def test_a_loop_of_cross_issued_intermediates_ends_untrusted(store: TrustStore) -> None:
    self_signed_a = make("Loop A", ca=True)
    b = make("Loop B", self_signed_a, ca=True)
    a = make("Loop A", b, ca=True)  # "Loop A" again, now issued by B: A -> B -> A -> ...
    leaf = make("Trader", a)

    assert codes(store.check(leaf.der, [a.der, b.der, self_signed_a.der])) == [ErrorCode.CERTIFICATE_UNTRUSTED]


# --- what a signing certificate must be for ----------------------------------------------


@pytest.mark.parametrize(
    ("bits", "trusted"),
    [
        ({"digital_signature": True}, True),
        # Deliberate in trust.py: nonRepudiation (contentCommitment) alone is accepted too, the
        # way qualified signature certificates are often issued (signxml's default policy wants
        # digitalSignature).
        ({"content_commitment": True}, True),
        ({"key_encipherment": True}, False),
        ({"key_agreement": True}, False),
        ({"key_cert_sign": True, "crl_sign": True}, False),
    ],
    ids=["digital-signature", "non-repudiation-only", "key-encipherment", "key-agreement", "ca-bits"],
)
def test_the_signing_certificate_must_be_for_signatures(
    root: Node, store: TrustStore, bits: dict[str, bool], trusted: bool
) -> None:
    leaf = make("Trader", root, key_usage=bits)

    assert codes(store.check(leaf.der)) == ([] if trusted else [ErrorCode.CERTIFICATE_UNTRUSTED])


def test_a_signing_certificate_without_key_usage_is_unrestricted(root: Node, store: TrustStore) -> None:
    """RFC 5280: no KeyUsage extension, no restriction (trust.py follows it)."""
    leaf = make("Trader", root, key_usage={})

    assert store.check(leaf.der) == []


def test_a_ca_certificate_cannot_sign_messages(root: Node, store: TrustStore) -> None:
    issuing = make("Issuing CA", root, ca=True)

    assert codes(store.check(issuing.der)) == [ErrorCode.CERTIFICATE_UNTRUSTED]


# --- how long a path may be -------------------------------------------------------------------


def chain(root: Node, intermediates: int) -> tuple[Node, list[bytes]]:
    issuer, ders = root, []
    for index in range(intermediates):
        issuer = make(f"Level {index + 1} CA", issuer, ca=True)
        ders.append(issuer.der)
    return make("Trader", issuer), ders


@pytest.mark.parametrize(
    ("intermediates", "trusted"),
    [(MAX_PATH_LENGTH - 1, True), (MAX_PATH_LENGTH, False)],
    ids=["at-the-bound", "one-beyond"],
)
def test_paths_are_bounded(root: Node, store: TrustStore, intermediates: int, trusted: bool) -> None:
    """At most MAX_PATH_LENGTH certificates below the anchor (the leaf and its intermediates)."""
    assert MAX_PATH_LENGTH == 6  # the documented bound; if it moves, move this test with it
    leaf, ders = chain(root, intermediates)

    assert codes(store.check(leaf.der, ders)) == ([] if trusted else [ErrorCode.CERTIFICATE_UNTRUSTED])


def test_a_path_length_constraint_is_respected(root: Node, store: TrustStore) -> None:
    limited = make("Limited CA", root, ca=True, path_length=0)  # may issue leaves only
    sub = make("Sub CA", limited, ca=True)
    leaf = make("Trader", sub)
    assert store.check(make("Direct", limited).der, [limited.der]) == []  # what it may do

    assert codes(store.check(leaf.der, [limited.der, sub.der])) == [ErrorCode.CERTIFICATE_UNTRUSTED]


# --- when -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A certificate valid from not_before to not_after, checked at `at` with `skew`."""

    start: dt.timedelta
    end: dt.timedelta
    at: dt.timedelta
    skew: dt.timedelta
    code: ErrorCode | None


WINDOWS = {
    "valid": Window(-DAY, DAY, dt.timedelta(0), dt.timedelta(0), None),
    "expired": Window(-2 * DAY, -DAY, dt.timedelta(0), 5 * MINUTE, ErrorCode.CERTIFICATE_EXPIRED),
    "not-yet-valid": Window(DAY, 2 * DAY, dt.timedelta(0), 5 * MINUTE, ErrorCode.CERTIFICATE_EXPIRED),
    "expired-a-minute-ago-within-5-minutes-skew": Window(-DAY, -MINUTE, dt.timedelta(0), 5 * MINUTE, None),
    "expired-6-minutes-ago-beyond-5-minutes-skew": Window(
        -DAY, -6 * MINUTE, dt.timedelta(0), 5 * MINUTE, ErrorCode.CERTIFICATE_EXPIRED
    ),
    "expired-a-minute-ago-without-skew": Window(
        -DAY, -MINUTE, dt.timedelta(0), dt.timedelta(0), ErrorCode.CERTIFICATE_EXPIRED
    ),
    "valid-in-a-minute-within-5-minutes-skew": Window(MINUTE, DAY, dt.timedelta(0), 5 * MINUTE, None),
    "valid-in-6-minutes-beyond-5-minutes-skew": Window(
        6 * MINUTE, DAY, dt.timedelta(0), 5 * MINUTE, ErrorCode.CERTIFICATE_EXPIRED
    ),
    "exactly-at-not-after": Window(-DAY, dt.timedelta(0), dt.timedelta(0), dt.timedelta(0), None),
}


@pytest.mark.parametrize("window", sorted(WINDOWS))
def test_validity_in_time_with_clock_skew(root: Node, window: str) -> None:
    w = WINDOWS[window]
    leaf = make("Trader", root, not_before=NOW + w.start, not_after=NOW + w.end)
    store = TrustStore([root.certificate], clock_skew=w.skew)

    assert codes(store.check(leaf.der, at=NOW + w.at)) == ([] if w.code is None else [w.code])


def test_validity_is_judged_now_by_default(root: Node) -> None:
    store = TrustStore([root.certificate], clock_skew=5 * MINUTE)
    now = dt.datetime.now(dt.UTC)

    assert store.check(make("Current", root, not_before=now - DAY, not_after=now + DAY).der) == []
    assert store.check(make("Lapsed 1 min", root, not_before=now - DAY, not_after=now - MINUTE).der) == []
    assert codes(store.check(make("Lapsed", root, not_before=now - DAY, not_after=now - 10 * MINUTE).der)) == [
        ErrorCode.CERTIFICATE_EXPIRED
    ]


def test_validity_is_checked_on_every_call_although_paths_are_cached(root: Node, store: TrustStore) -> None:
    leaf = make("Trader", root, not_before=NOW - DAY, not_after=NOW + DAY)

    assert store.check(leaf.der, at=NOW) == []
    assert codes(store.check(leaf.der, at=NOW + 2 * DAY)) == [ErrorCode.CERTIFICATE_EXPIRED]
    assert store.check(leaf.der, at=NOW) == []


@pytest.mark.parametrize("which", ["intermediate", "anchor"])
def test_every_certificate_on_the_path_must_be_valid(which: str) -> None:
    lapsed = {"not_before": NOW - 3 * DAY, "not_after": NOW - DAY}
    root = make("Root", ca=True, **(lapsed if which == "anchor" else {}))
    intermediate = make("Issuing", root, ca=True, **(lapsed if which == "intermediate" else {}))
    leaf = make("Trader", intermediate)
    store = TrustStore([root.certificate])

    problems = store.check(leaf.der, [intermediate.der], at=NOW)

    assert codes(problems) == [ErrorCode.CERTIFICATE_EXPIRED]
    assert ("Issuing" if which == "intermediate" else "Root") in problems[0].message


# --- malformed input ------------------------------------------------------------------------


def test_a_certificate_with_a_malformed_issuer_is_a_problem_not_a_crash(root: Node, store: TrustStore) -> None:
    leaf = make("Trader", root)
    name = b"\x0c\x0cTest Root CA"  # UTF8String "Test Root CA" in the issuer Name
    assert leaf.der.count(name) == 1
    broken = leaf.der.replace(name, b"\x00" + name[1:])  # tag 0 is no string type
    x509.load_der_x509_certificate(broken)  # loads: the damage shows only when the issuer is read

    try:
        problems = store.check(broken)
    except ValueError as exc:
        raise AssertionError(f"TrustStore.check raised {exc!r}") from None
    assert codes(problems) in ([ErrorCode.CERTIFICATE_INVALID], [ErrorCode.CERTIFICATE_UNTRUSTED])
