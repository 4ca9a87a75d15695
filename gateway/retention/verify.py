"""Checking a signed archive offline: the manifest's signature, the signer's chain, every file's digest.

The archive is read as untrusted input: only regular members with plain relative names, each at most once;
the three small files are read with a size limit, the others are hashed as they stream.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from gateway.exceptions import GatewayError
from gateway.retention.archive import CONTENTS, MANIFEST, SIGNATURE, SIGNER, verify_signature
from gateway.signing.keys import der_of
from gateway.signing.trust import TrustStore

SMALL_FILE_LIMIT = 64 * 1024 * 1024  # MANIFEST, MANIFEST.sig, signer.pem, archive.json


class ArchiveInvalid(GatewayError):
    """The archive cannot be trusted; the message says why (the first reason found)."""


@dataclass(frozen=True)
class Verified:
    signer: str  # the certificate's subject
    created_at: dt.datetime
    files: int
    counts: dict[str, int] = field(default_factory=dict)  # inbound, outbound, rejections


def verify_archive(path: Path, trust: TrustStore) -> Verified:
    """Check the archive at `path` against `trust`'s anchors; ArchiveInvalid names the first problem."""
    try:
        with tarfile.open(path, mode="r:") as tar:
            digests, small = _read(tar)
    except (tarfile.TarError, OSError) as exc:
        raise ArchiveInvalid(f"{path} is not a readable archive: {exc}") from None
    for name in (MANIFEST, SIGNATURE, SIGNER, CONTENTS):
        if name not in small:
            raise ArchiveInvalid(f"{path} has no {name}")
    chain = _certificates(small[SIGNER])
    try:
        verify_signature(chain[0].public_key(), small[SIGNATURE], small[MANIFEST])
    except (InvalidSignature, TypeError):
        raise ArchiveInvalid(f"{path}: the signature of {MANIFEST} does not verify with {SIGNER}") from None
    contents = _contents(small[CONTENTS])
    created_at = dt.datetime.fromisoformat(contents["created_at"])
    problems = trust.check(der_of(chain[0]), [der_of(c) for c in chain[1:]], at=created_at)
    if problems:
        raise ArchiveInvalid(f"{path}: the signer's certificate is not trusted: {problems[0].message}")
    listed = _manifest(small[MANIFEST])
    unlisted = set(digests) - set(listed) - {MANIFEST, SIGNATURE, SIGNER}
    if unlisted:
        raise ArchiveInvalid(f"{path}: {sorted(unlisted)[0]} is not in the manifest")
    for name, expected in listed.items():
        if name not in digests:
            raise ArchiveInvalid(f"{path}: {name} is in the manifest but not in the archive")
        if digests[name] != expected:
            raise ArchiveInvalid(f"{path}: {name} was changed (its SHA-256 differs from the manifest's)")
    return Verified(
        signer=chain[0].subject.rfc4514_string(),
        created_at=created_at,
        files=len(listed),
        counts={kind: len(contents.get(kind, [])) for kind in ("inbound", "outbound", "rejections")},
    )


def _read(tar: tarfile.TarFile) -> tuple[dict[str, str], dict[str, bytes]]:
    digests: dict[str, str] = {}
    small: dict[str, bytes] = {}
    for member in tar:
        name = member.name
        parts = PurePosixPath(name).parts
        if not member.isfile() or not parts or name.startswith("/") or ".." in parts or "\\" in name:
            raise ArchiveInvalid(f"member {name!r} is not a plain file with a relative name")
        if name in digests:
            raise ArchiveInvalid(f"member {name!r} appears twice")
        handle = tar.extractfile(member)
        assert handle is not None
        if name in (MANIFEST, SIGNATURE, SIGNER, CONTENTS):
            if member.size > SMALL_FILE_LIMIT:
                raise ArchiveInvalid(f"{name} is larger than {SMALL_FILE_LIMIT} bytes")
            small[name] = handle.read()
            digests[name] = hashlib.sha256(small[name]).hexdigest()
        else:
            digests[name] = hashlib.file_digest(handle, "sha256").hexdigest()
    return digests, small


def _certificates(pem: bytes) -> list[x509.Certificate]:
    try:
        chain = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise ArchiveInvalid(f"{SIGNER} cannot be read: {exc}") from None
    return chain


def _manifest(data: bytes) -> dict[str, str]:
    listed: dict[str, str] = {}
    for number, line in enumerate(data.decode("ascii", errors="replace").splitlines(), 1):
        digest, separator, name = line.partition("  ")
        if not separator or len(digest) != 64 or name in listed:
            raise ArchiveInvalid(f"{MANIFEST} line {number} is not `<sha256>  <path>` for a new path")
        listed[name] = digest
    return listed


def _contents(data: bytes) -> dict:
    try:
        contents = json.loads(data)
        dt.datetime.fromisoformat(contents["created_at"])
    except (ValueError, KeyError, TypeError):
        raise ArchiveInvalid(f"{CONTENTS} cannot be read") from None
    return contents
