"""The registry watcher of `serve` (app/registry_reload.py): a change of parties.toml or of a certificate file it
names reaches the store (and so every instance's registry); a bad file changes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from support import REPO, write_config

from app.registry_reload import RegistryWatcher
from gateway.config import load_settings
from gateway.parties import PartyRegistry
from gateway.signing.pki import load_ca
from gateway.store.engine import make_engine

ADDED = "0400000099"


def test_a_changed_file_is_applied_a_bad_one_refused_and_a_changed_certificate_seen(
    tmp_path: Path, pki_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parties = tmp_path / "parties.toml"
    original = (REPO / "config" / "parties.toml").read_text(encoding="utf-8")
    parties.write_text(original, encoding="utf-8")
    monkeypatch.setenv("GATEWAY_DB_URL", f"sqlite:///{tmp_path / 'store.db'}")
    settings = load_settings(write_config(tmp_path / "config", pki_dir, "reload", registry={"parties": str(parties)}))
    watcher = RegistryWatcher(settings)
    engine = make_engine(settings.db_url)
    running = PartyRegistry(engine)

    assert watcher.check() is False  # nothing changed

    certificate = tmp_path / f"{ADDED}.cert.pem"
    ca = load_ca(pki_dir)
    certificate.write_bytes(ca.issue("Added", ADDED, "ec-p256").certificate.public_bytes(serialization.Encoding.PEM))
    parties.write_text(original + f'\n[[party]]\nid = "{ADDED}"\nroles = ["logistics"]\ncertificates = ["{certificate}"]\n')
    assert watcher.check() is True
    running.refresh()
    first = running.get(ADDED)
    assert first is not None

    parties.write_text(original + f'\n[[party]]\nid = "{ADDED}"\nroles = ["pirate"]\n')
    assert watcher.check() is False
    running.refresh()
    assert running.get(ADDED) == first  # the registry in use stays

    parties.write_text(original + f'\n[[party]]\nid = "{ADDED}"\nroles = ["logistics"]\ncertificates = ["{certificate}"]\n')
    assert watcher.check() is True
    certificate.write_bytes(ca.issue("Added, renewed", ADDED, "ec-p256").certificate.public_bytes(serialization.Encoding.PEM))
    os.utime(certificate, ns=(1, 1))  # a new certificate in the same file: the modification time differs
    assert watcher.check() is True
    running.refresh()
    renewed = running.get(ADDED)
    assert renewed is not None and set(renewed.certificates) != set(first.certificates)
    engine.dispose()
