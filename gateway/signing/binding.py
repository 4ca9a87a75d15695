"""Binding a verified signature to the party it claims to come from.

The signature verifies (gateway/signing/verify.py); here is whether it counts as
that party's: the party is registered and active, the certificate chains to a
trust anchor (the configured ones, or the party's own CA, which vouches for that
party alone), is valid now, and is registered to that party. The intake pipeline
checks every sender so, and delivery checks the receipts partners send back.
"""

from __future__ import annotations

import hashlib

from gateway.errors import ErrorCode, Problem
from gateway.locations import describe, locate
from gateway.parties import Party, PartyRegistry
from gateway.signing.algorithms import DSIG
from gateway.signing.trust import TrustStore
from gateway.signing.verify import PresentedCertificate, VerifiedSignature


def signer_problems(
    identity: str,
    party: Party | None,
    signature: VerifiedSignature | PresentedCertificate,
    trust: TrustStore,
    registry: PartyRegistry,
) -> list[Problem]:
    """Every reason the signature (or the certificate presented for it) is not `identity`'s; empty when it is."""
    problems: list[Problem] = []
    if party is None:
        problems.append(
            Problem(ErrorCode.PARTY_UNKNOWN, f"party {identity!r} is not registered", _from_identity(signature))
        )
    elif not party.active:
        problems.append(
            Problem(ErrorCode.PARTY_SUSPENDED, f"party {party.identity!r} is {party.status}", _from_identity(signature))
        )
    anchors = party.anchors if party else ()
    problems.extend(trust.check(signature.certificate_der, signature.intermediates, party_anchors=anchors))
    if party is not None:
        print_ = hashlib.sha256(signature.certificate_der).hexdigest()
        if print_ not in party.certificates:
            owner = registry.owner_of(print_)
            whose = f"it is registered to party {owner.identity!r}" if owner else "it is not registered to any party"
            problems.append(
                Problem(
                    ErrorCode.CERTIFICATE_NOT_REGISTERED,
                    f"the signing certificate ({signature.certificate.subject.rfc4514_string()}) is not "
                    f"registered to {party.identity!r}; {whose}",
                    _key_info(signature),
                )
            )
    return problems


def _from_identity(signature: VerifiedSignature | PresentedCertificate) -> str:
    return locate(signature.root, "Header/From/identity")


def _key_info(signature: VerifiedSignature | PresentedCertificate) -> str:
    """Where the certificate was: the signature's KeyInfo (or the signature, when it carries none)."""
    found = signature.root.find(f"{{{DSIG}}}Signature/{{{DSIG}}}KeyInfo")
    return describe(found if found is not None else signature.root)
