"""Signed archives: verified by `gateway archive verify` and by openssl and sha256sum alone; any change is caught."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from app.cli.main import main
from gateway.retention.archive import write_archive
from gateway.retention.verify import ArchiveInvalid, verify_archive
from gateway.signing.keys import SigningIdentity
from gateway.signing.trust import TrustStore

NOW = dt.datetime.now(dt.UTC)
FILES = [
    ("inbound/1/envelope.xml", b"<Envelope>H\xe1\xba\xa3i quan\x00\xff</Envelope>"),
    ("inbound/1/receipt.xml", b"<Receipt/>"),
    ("archive.json", b'{"gateway": "VNECOMGW", "created_at": "%s", "inbound": [{}]}' % NOW.isoformat().encode()),
]


@pytest.fixture
def archive(tmp_path: Path, identity: Callable[[str], SigningIdentity]) -> Path:
    path = tmp_path / "a.tar"
    write_archive(path, FILES, identity("VNECOMGW"), NOW.timestamp())
    return path


@pytest.fixture
def trust(pki_dir: Path) -> TrustStore:
    return TrustStore.from_files([pki_dir / "ca.pem"])


def test_gateway_archive_verify_accepts_a_whole_archive(archive: Path, pki_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["archive", "verify", str(archive), "--ca", str(pki_dir / "ca.pem")]) == 0
    out = capsys.readouterr().out
    assert "valid; signed by" in out and "1 inbound" in out


def test_openssl_and_sha256sum_verify_it_offline_as_the_readme_says(archive: Path, pki_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    commands = [
        ["tar", "-xf", str(archive), "-C", str(out)],
        ["openssl", "verify", "-CAfile", str(pki_dir / "ca.pem"), "signer.pem"],
        ["sh", "-c", "openssl x509 -in signer.pem -pubkey -noout > signer.pub"],
        ["openssl", "dgst", "-sha256", "-verify", "signer.pub", "-signature", "MANIFEST.sig", "MANIFEST"],
        ["sha256sum", "--strict", "-c", "MANIFEST"],
    ]
    for command in commands:
        subprocess.run(command, cwd=out, check=True, capture_output=True)
    (out / "inbound" / "1" / "receipt.xml").write_bytes(b"<Receipt changed='1'/>")
    assert subprocess.run(["sha256sum", "--strict", "-c", "MANIFEST"], cwd=out, capture_output=True).returncode != 0


def rewritten(archive: Path, change: Callable[[str, bytes], tuple[str, bytes] | None], extra: tuple[str, bytes] | None = None) -> Path:
    """The archive with each member passed through `change` (None drops it), plus `extra`."""
    target = archive.with_name("changed.tar")
    with tarfile.open(archive) as source, tarfile.open(target, "w") as tar:
        members = [(m.name, source.extractfile(m).read()) for m in source]  # type: ignore[union-attr]
        for name, data in [*members, *([extra] if extra else [])]:
            kept = change(name, data)
            if kept is not None:
                info = tarfile.TarInfo(kept[0])
                info.size = len(kept[1])
                tar.addfile(info, io.BytesIO(kept[1]))
    return target


@pytest.mark.parametrize(
    ("change", "extra", "says"),
    [
        (lambda n, d: (n, d + b" ") if n.endswith("envelope.xml") else (n, d), None, "was changed"),
        (lambda n, d: (n, d.replace(b"inbound/1/receipt.xml", b"inbound/1/receipt.xmL")) if n == "MANIFEST" else (n, d), None, "does not verify"),
        (lambda n, d: None if n.endswith("receipt.xml") else (n, d), None, "not in the archive"),
        (lambda n, d: (n, d), ("inbound/2/envelope.xml", b"<smuggled/>"), "not in the manifest"),
        (lambda n, d: (n, d), ("../escape.xml", b"<x/>"), "not a plain file with a relative name"),
        (lambda n, d: None if n == "MANIFEST.sig" else (n, d), None, "has no MANIFEST.sig"),
    ],
    ids=["changed file", "changed manifest", "missing file", "extra file", "path traversal", "no signature"],
)
def test_any_change_is_caught(
    archive: Path, trust: TrustStore, change: Callable, extra: tuple[str, bytes] | None, says: str
) -> None:
    with pytest.raises(ArchiveInvalid, match=says):
        verify_archive(rewritten(archive, change, extra), trust)


def test_an_archive_signed_by_a_key_outside_the_trust_anchors_is_refused(
    archive: Path, identity: Callable[[str], SigningIdentity], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(identity("0101234567").certificate.public_bytes(serialization.Encoding.PEM))
    assert main(["archive", "verify", str(archive), "--ca", str(stranger)]) == 1
    assert capsys.readouterr().err.strip().startswith("archive invalid:")
