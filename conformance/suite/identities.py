"""Who a run may sign as, what it knows of the gateway's registry, and the credentials it makes up.

A run signs as one party (``--party/--key/--cert``). Cases that need other
parties (another role, a suspended party, another party's certificate) use
the extra identities of ``--identities DIR`` (``<party>.key.pem`` and
``<party>.cert.pem``), whose roles and status come from ``--parties`` (the
gateway's parties.toml). Hostile credentials that no registry knows (a foreign
CA, a self-signed or weak certificate) are generated on the fly. Credentials
that must chain to the gateway's trust anchor but be wrong in another way
(expired, not for signing, through an intermediate) are minted with the
anchor's private key, when ``DIR/ca.key.pem`` is there. Whatever is missing
makes the cases that need it `Unavailable`, with the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID

from conformance import attacks, certificate_attacks
from conformance.suite import spec
from conformance.suite.model import SenderSpec, Unavailable
from conformance.suite.ocsp_responder import OcspResponder
from gateway.parties import read_parties_file
from gateway.signing.keys import SigningIdentity, load_certificates
from gateway.signing.pki import CertificateAuthority, PrivateKey, issue_certificate, name, new_key

UNREGISTERED_PARTY = "XX-CONFORMANCE-NOBODY"
"""A party id no gateway registers (the suite assumes so)."""

SIGNERS: dict[str, str] = {
    "sender": "the sending party's own key and certificate",
    "other-party": "the key and certificate of another registered party",
    "foreign-ca": "a certificate from a CA that the gateway does not trust",
    "self-signed": "the sender's own key in a self-signed certificate",
    "rsa-1024": "a 1024-bit RSA key",
    "ec-p521": "an ECDSA key on P-521 (the profile allows P-256 and P-384)",
    "ec-secp256k1": "an ECDSA key on secp256k1",
    "expired": "a certificate from the trusted CA that expired yesterday",
    "not-yet-valid": "a certificate from the trusted CA that becomes valid in two days",
    "not-for-signing": "a CA certificate from the trusted CA (key usage: certificate signing only)",
    "via-intermediate": "a certificate from an intermediate CA that the trusted CA certified",
    "revoked": "a certificate from the trusted CA that names an OCSP responder (run by the suite on 127.0.0.1) "
    "answering that it is revoked",
    "weak-intermediate": "a certificate from an RSA-1024 intermediate CA that the trusted CA certified",
}
"""Whose key signs a step, by the name a case gives (`Step.signer`)."""


@dataclass(frozen=True)
class Party:
    """A party as the gateway's registry has it."""

    identity: str
    roles: frozenset[str]
    status: str = "active"


def key_kind(identity: SigningIdentity) -> str:
    """The `gateway.signing.pki.new_key` kind of an identity's key ("rsa-2048", "ec-p256"...)."""
    key = identity.private_key
    if isinstance(key, rsa.RSAPrivateKey):
        return f"rsa-{key.key_size}"
    return {"secp256r1": "ec-p256", "secp384r1": "ec-p384"}.get(key.curve.name, "ec-p256")


class Credentials:
    """The identities of a run and the registry it knows; makes up hostile credentials once per run."""

    def __init__(
        self,
        primary: str,
        identities: dict[str, SigningIdentity],
        parties: dict[str, Party],
        gateway_id: str = spec.DEFAULT_GATEWAY_ID,
        anchor: CertificateAuthority | None = None,
    ) -> None:
        if primary not in identities or primary not in parties:
            raise ValueError(f"the primary party {primary!r} needs an identity and its roles")
        self.primary = primary
        self.identities = identities
        self.parties = parties
        self.gateway_id = gateway_id
        self.anchor = anchor
        self._minted: dict[tuple[str, str], SigningIdentity] = {}
        self._fresh_keys: dict[str, PrivateKey] = {}
        self._untrusted_ca: CertificateAuthority | None = None
        self._responder: OcspResponder | None = None

    @classmethod
    def load(
        cls,
        party: str,
        key: Path,
        cert: Path,
        ca: Path | None = None,
        roles: Iterable[str] | None = None,
        identities_dir: Path | None = None,
        parties_file: Path | None = None,
        gateway_id: str = spec.DEFAULT_GATEWAY_ID,
    ) -> Credentials:
        """From the runner's options; raises ValueError when the primary party's roles are unknown."""
        identities = _identities_in(identities_dir) if identities_dir else {}
        identities[party] = SigningIdentity.load(key, cert)
        parties = _parties_in(parties_file, identities_dir) if parties_file else {}
        if roles:
            parties[party] = Party(party, frozenset(roles), parties[party].status if party in parties else "active")
        if party not in parties:
            raise ValueError(f"the roles of party {party!r} are unknown: give --roles, or --parties naming it")
        anchor_key = identities_dir / "ca.key.pem" if identities_dir else None
        anchor = None
        if ca is not None and anchor_key is not None and anchor_key.exists():
            anchor = _anchor(anchor_key, load_certificates(ca))
        return cls(party, identities, parties, gateway_id, anchor)

    # --- who sends, whom the envelope names ------------------------------------------

    def sender(
        self, wanted: SenderSpec, document_type: str, exclude: str | None = None, preferred: str | None = None
    ) -> str:
        """The party (with an identity) that signs a step of `document_type` as `wanted` says.

        `preferred` (the party a sample was written for, whose payload names it where a
        business rule wants the sender named) is tried first, then the run's own party.
        """
        senders = spec.documents()[document_type].senders

        def fits(party: Party) -> bool:
            return (
                party.identity not in (exclude, self.gateway_id)
                and party.status == wanted.status
                and (wanted.role is None or wanted.role in party.roles)
                and (wanted.allowed is None or bool(party.roles & senders) == wanted.allowed)
            )

        candidates = self._candidates()
        if preferred in candidates:
            candidates.remove(preferred)
            candidates.insert(0, preferred)
        for identity in candidates:
            if fits(self.parties[identity]):
                return identity
        raise Unavailable(f"needs the key of {_describe(wanted, document_type)}: {self._where_identities()}")

    def claim(self, wanted: SenderSpec, sender: str) -> str:
        """The From/identity of the envelope."""
        if wanted.claim == "unregistered":
            return UNREGISTERED_PARTY
        if wanted.claim == "self":
            return sender
        for party in sorted(self.parties.values(), key=lambda p: p.identity):
            if party.identity not in (sender, self.gateway_id) and party.status == "active":
                return party.identity
        raise Unavailable("needs another registered party to impersonate: give --parties")

    # --- whose key signs -----------------------------------------------------------------

    def signer(self, kind: str, sender: str) -> SigningIdentity:
        """The identity that signs a step from `sender` (see SIGNERS)."""
        if kind == "sender":
            return self.identities[sender]
        if kind == "other-party":
            others = [i for i in self._candidates() if i != sender and self.parties[i].status == "active"]
            if not others:
                raise Unavailable(f"needs the key of a second registered party: {self._where_identities()}")
            return self.identities[others[0]]
        if kind in _NEEDS_ANCHOR and self.anchor is None:
            raise Unavailable(f"needs {SIGNERS[kind]}: put the trust anchor's private key (ca.key.pem) in --identities")
        if (kind, sender) not in self._minted:
            self._minted[kind, sender] = self._mint(kind, self.identities[sender], sender)
        return self._minted[kind, sender]

    def fresh_key(self, like: SigningIdentity) -> PrivateKey:
        """A key of the same kind as `like`'s that nobody registered (one per kind and run)."""
        kind = key_kind(like)
        if kind not in self._fresh_keys:
            self._fresh_keys[kind] = new_key(kind)
        return self._fresh_keys[kind]

    def _mint(self, kind: str, like: SigningIdentity, uid: str) -> SigningIdentity:
        label = f"Conformance {kind} ({uid})"
        if kind == "self-signed":
            key = like.private_key
            return SigningIdentity(key, issue_certificate(name(label, uid=uid), key.public_key(), key))
        if kind in ("rsa-1024", "ec-p521", "ec-secp256k1"):
            return self._foreign_ca().issue(label, uid, kind)
        if kind == "foreign-ca":
            return self._foreign_ca().issue(label, uid, key_kind(like))
        assert self.anchor is not None
        if kind == "revoked":
            return self._revoked(label, uid, key_kind(like))
        return _ANCHOR_MINTERS[kind](self.anchor, label, uid, key_kind(like))

    def _revoked(self, label: str, uid: str, kind: str) -> SigningIdentity:
        """A certificate from the anchor whose OCSP responder (this run's, started once) says it is revoked."""
        assert self.anchor is not None
        if self._responder is None:
            self._responder = OcspResponder(self.anchor)
        key = new_key(kind)
        aia = x509.AuthorityInformationAccess(
            [x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(self._responder.url))]
        )
        certificate = issue_certificate(
            name(label, uid=uid), key.public_key(), self.anchor.key, self.anchor.certificate.subject, extensions=(aia,)
        )
        self._responder.revoked.add(certificate.serial_number)
        return SigningIdentity(key, certificate)

    def _foreign_ca(self) -> CertificateAuthority:
        if self._untrusted_ca is None:
            self._untrusted_ca = CertificateAuthority.create("Conformance Untrusted CA")
        return self._untrusted_ca

    def _candidates(self) -> list[str]:
        """Parties the run can sign as: the primary first, then the others by id."""
        others = sorted(i for i in self.identities if i != self.primary and i in self.parties)
        return [self.primary, *others]

    def _where_identities(self) -> str:
        return "give its key and certificate in --identities and its roles and status in --parties"


def _describe(wanted: SenderSpec, document_type: str) -> str:
    words = [f"a{'n' if wanted.status == 'active' else ''} {wanted.status} party"]
    if wanted.role:
        words.append(f"with role {wanted.role}")
    if wanted.allowed is not None:
        words.append(f"that {'may' if wanted.allowed else 'may not'} send {document_type}")
    return " ".join(words)


def _expired(ca: CertificateAuthority, label: str, uid: str, kind: str) -> SigningIdentity:
    return attacks.expired_identity(ca, label, uid, kind)


def _not_yet_valid(ca: CertificateAuthority, label: str, uid: str, kind: str) -> SigningIdentity:
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    return ca.issue(label, uid, kind, not_before=start, not_after=start + dt.timedelta(days=365))


def _not_for_signing(ca: CertificateAuthority, label: str, uid: str, kind: str) -> SigningIdentity:
    key = new_key(kind)
    certificate = issue_certificate(name(label, uid=uid), key.public_key(), ca.key, ca.certificate.subject, ca=True)
    return SigningIdentity(key, certificate)


def _via_intermediate(ca: CertificateAuthority, label: str, uid: str, kind: str) -> SigningIdentity:
    intermediate = _not_for_signing(ca, f"Conformance intermediate CA ({uid})", uid, "ec-p256")
    key = new_key(kind)
    leaf = issue_certificate(
        name(label, uid=uid), key.public_key(), intermediate.private_key, intermediate.certificate.subject
    )
    return SigningIdentity(key, leaf, (intermediate.certificate,))


_ANCHOR_MINTERS: dict[str, Callable[[CertificateAuthority, str, str, str], SigningIdentity]] = {
    "expired": _expired,
    "not-yet-valid": _not_yet_valid,
    "not-for-signing": _not_for_signing,
    "via-intermediate": _via_intermediate,
    "weak-intermediate": lambda ca, label, uid, kind: certificate_attacks.weak_intermediate(ca, label, uid),
}
_NEEDS_ANCHOR = {*_ANCHOR_MINTERS, "revoked"}  # "revoked" is minted by Credentials, which runs its responder


def _identities_in(directory: Path) -> dict[str, SigningIdentity]:
    identities = {}
    for key_file in sorted(directory.glob("*.key.pem")):
        party = key_file.name.removesuffix(".key.pem")
        cert_file = directory / f"{party}.cert.pem"
        if party != "ca" and cert_file.exists():
            identities[party] = SigningIdentity.load(key_file, cert_file)
    return identities


def _parties_in(parties_file: Path, pki_dir: Path | None) -> dict[str, Party]:
    configured = read_parties_file(parties_file, pki_dir or parties_file.parent)
    return {p.identity: Party(p.identity, p.roles, p.status) for p in configured}


def _anchor(key_file: Path, anchors: list[x509.Certificate]) -> CertificateAuthority:
    """The trust anchor whose private key is `key_file` (it must be one of --ca's certificates)."""
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise ValueError(f"{key_file}: the CA key must be RSA or ECDSA")
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    for certificate in anchors:
        spki = certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if spki == public:
            return CertificateAuthority(key, certificate)
    raise ValueError(f"{key_file} is not the key of any certificate in --ca")
