"""Writing a signed archive: a tar of the raw bytes with a manifest signed by the gateway's key.

Layout (every name is ASCII and relative; no links, no directories as members):
    MANIFEST          one line per other file, `<sha256 hex>  <path>`, the format `sha256sum -c` reads
    MANIFEST.sig      the gateway's signature of MANIFEST's bytes: ECDSA (DER) or RSA PKCS#1 v1.5, over SHA-256,
                      as `openssl dgst -sha256 -verify` checks it
    signer.pem        the gateway's certificate, then its intermediates
    archive.json      what the archive holds: the gateway, when it was made, each item's facts
    inbound/<row>/    envelope.xml (the exact signed bytes received), receipt.xml (the signed receipt returned),
                      history.json, processing.json
    outbound/<row>/   envelope.xml (the exact signed bytes sent), delivery-receipt.xml (the proof of delivery),
                      history.json
    rejections/<row>/ body.xml (when it was kept), receipt.xml (the signed rejection), errors.json
The file is written beside its final name and renamed once it is complete and on disk: a file with the final
name is always whole.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from gateway.signing.keys import SigningIdentity

MANIFEST = "MANIFEST"
SIGNATURE = "MANIFEST.sig"
SIGNER = "signer.pem"
CONTENTS = "archive.json"
PARTIAL_SUFFIX = ".part"


def manifest_of(files: Sequence[tuple[str, bytes]]) -> bytes:
    return "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in files).encode("ascii")


def sign(signer: SigningIdentity, data: bytes) -> bytes:
    key = signer.private_key
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def verify_signature(public_key: PublicKeyTypes, signature: bytes, data: bytes) -> None:
    """Raises cryptography's InvalidSignature (or TypeError for a key of another kind) unless it verifies."""
    if isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    else:
        raise TypeError(f"{type(public_key).__name__} keys do not sign archives")


def write_archive(path: Path, files: Sequence[tuple[str, bytes]], signer: SigningIdentity, mtime: float) -> str:
    """Write `files` (name, bytes) with a signed manifest to `path`; returns the SHA-256 (hex) of the whole file."""
    manifest = manifest_of(files)
    chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (signer.certificate, *signer.intermediates))
    members = [(MANIFEST, manifest), (SIGNATURE, sign(signer, manifest)), (SIGNER, chain), *files]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    with partial.open("wb") as raw:
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, data in members:
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(data), mtime, 0o444
                tar.addfile(info, io.BytesIO(data))
        raw.flush()
        os.fsync(raw.fileno())
    with partial.open("rb") as written:
        digest = hashlib.file_digest(written, "sha256").hexdigest()
    os.replace(partial, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself is on disk before the purge deletes anything
    finally:
        os.close(directory)
    return digest
