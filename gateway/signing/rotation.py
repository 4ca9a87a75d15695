"""Rotation of the gateway's own key: which key signs now, and which certificates partners fetch.

`gateway keys rotate` writes the next key and certificate beside the current ones
(`<id>.next.key.pem`, `<id>.next.cert.pem`). From `[keys] next_from` on, receipts and the
gateway's own messages are signed with the next key; until `gateway keys rotate --finish`
both certificates are published (GET /v1/certificates), so partners can register the next
one before the switch and still verify what the current one signed. `--finish` makes the
next key the current one and keeps the old pair as `<id>.previous.*`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gateway.exceptions import ConfigurationError
from gateway.signing.keys import SigningIdentity, der_of, load_certificates
from gateway.signing.pki import PartyKeySpec, cert_path, key_path, load_ca, write_identity


def next_name(identity: str) -> str:
    """The file stem of the gateway's next key and certificate (`<stem>.key.pem`, `<stem>.cert.pem`)."""
    return f"{identity}.next"


def previous_name(identity: str) -> str:
    return f"{identity}.previous"


@dataclass(frozen=True)
class GatewayKeys:
    """The gateway's current key and, during a rotation, the next one and the moment it takes over."""

    current: SigningIdentity
    next: SigningIdentity | None = None
    next_from: dt.datetime | None = None

    @classmethod
    def load(cls, directory: Path, identity: str, next_from: dt.datetime | None) -> GatewayKeys:
        """The keys in the PKI directory; `next_from` without a next key is a configuration error."""
        current = SigningIdentity.load(key_path(directory, identity), cert_path(directory, identity))
        stem = next_name(identity)
        if not key_path(directory, stem).exists():
            if next_from is not None:
                raise ConfigurationError(
                    f"[keys] next_from is set but there is no next key {key_path(directory, stem)}: "
                    "run `gateway keys rotate`, or remove next_from"
                )
            return cls(current)
        return cls(current, SigningIdentity.load(key_path(directory, stem), cert_path(directory, stem)), next_from)

    def signer(self, now: dt.datetime | None = None) -> SigningIdentity:
        """The identity that signs at `now` (default: this instant)."""
        if self.next is None or self.next_from is None:
            return self.current
        return self.next if (now or dt.datetime.now(dt.UTC)) >= self.next_from else self.current

    def certificates(self) -> list[x509.Certificate]:
        """The current certificate, then the next one during a rotation."""
        return [self.current.certificate] if self.next is None else [self.current.certificate, self.next.certificate]

    def published(self) -> bytes:
        """The certificates partners should know: the current one, then the next one during a rotation (PEM)."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.certificates())


def own_certificates(directory: Path, identity: str) -> list[x509.Certificate]:
    """The gateway's current certificate and, during a rotation, the next one, as the PKI directory has them
    (without their keys, for commands that only look at them; a missing file is left out)."""
    files = [cert_path(directory, identity), cert_path(directory, next_name(identity))]
    return [load_certificates(path)[0] for path in files if path.exists()]


def published_ders(directory: Path, identity: str) -> frozenset[bytes]:
    """The DER of the gateway's current certificate and, during a rotation, of the next one: what may sign its receipts."""
    return frozenset(der_of(certificate) for certificate in own_certificates(directory, identity))


Signer = SigningIdentity | GatewayKeys
"""What signs an outgoing envelope: a fixed identity (a party's client) or the gateway's rotating keys."""


def signing_identity(signer: Signer) -> SigningIdentity:
    return signer.signer() if isinstance(signer, GatewayKeys) else signer


def rotate(directory: Path, gateway: PartyKeySpec) -> SigningIdentity:
    """Issue the next key and certificate from the development CA; refuses while a rotation is under way."""
    stem = next_name(gateway.identity)
    if key_path(directory, stem).exists():
        raise ConfigurationError(
            f"a next key is already there ({key_path(directory, stem)}): finish that rotation first "
            "(`gateway keys rotate --finish`)"
        )
    if not key_path(directory, gateway.identity).exists():
        raise ConfigurationError(f"no current key {key_path(directory, gateway.identity)}: run `gateway keys init`")
    identity = load_ca(directory).issue(gateway.name, gateway.identity, gateway.key_kind, gateway.country)
    write_identity(directory, stem, identity)
    return identity


def finish(directory: Path, identity: str) -> SigningIdentity:
    """The next key becomes the current one; the old pair is kept as `<id>.previous.*`."""
    stem = next_name(identity)
    if not key_path(directory, stem).exists():
        raise ConfigurationError(f"no rotation under way: {key_path(directory, stem)} does not exist")
    old = previous_name(identity)
    key_path(directory, identity).replace(key_path(directory, old))
    cert_path(directory, identity).replace(cert_path(directory, old))
    key_path(directory, stem).replace(key_path(directory, identity))
    cert_path(directory, stem).replace(cert_path(directory, identity))
    return SigningIdentity.load(key_path(directory, identity), cert_path(directory, identity))
