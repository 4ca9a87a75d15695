"""`gateway parties reload`: parties.toml applied to the store without a restart; a bad file is refused and the
registry in use stays. In-process, on a SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from support import REPO, write_config

from app.cli.main import main
from gateway.signing.pki import load_ca
from gateway.parties import PartyRegistry
from gateway.store.engine import make_engine

ADDED = "0400000088"


@pytest.fixture
def parties_file(tmp_path: Path) -> Path:
    path = tmp_path / "parties.toml"
    path.write_text((REPO / "config" / "parties.toml").read_text(encoding="utf-8"), encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path, pki_dir: Path, parties_file: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GATEWAY_DB_URL", f"sqlite:///{tmp_path / 'store.db'}")
    return write_config(tmp_path / "config", pki_dir, "cli-parties", registry={"parties": str(parties_file)})


def test_a_reload_reaches_a_running_registry_and_a_bad_file_changes_nothing(
    config: Path, parties_file: Path, pki_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "parties", "reload"]) == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    running = PartyRegistry(engine)  # what an instance that is serving holds
    before = {party.identity: party for party in running.all()}
    assert ADDED not in before

    certificate = pki_dir / "0101234567.cert.pem"  # a certificate of an existing party: refused (shared)
    parties_file.write_text(
        parties_file.read_text(encoding="utf-8")
        + f'\n[[party]]\nid = "{ADDED}"\nroles = ["logistics"]\ncertificates = ["{certificate}"]\n',
        encoding="utf-8",
    )
    capsys.readouterr()
    assert main(["--config", str(config), "parties", "reload"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    parties_file.write_text(
        parties_file.read_text(encoding="utf-8").replace('roles = ["logistics"]\ncertificates', 'roles = ["pirate"]\ncertificates'),
        encoding="utf-8",
    )
    assert main(["--config", str(config), "parties", "reload"]) == 2
    running.refresh()
    assert {party.identity: party for party in running.all()} == before  # the registry in use stays

    own = tmp_path / f"{ADDED}.cert.pem"
    own.write_bytes(load_ca(pki_dir).issue("Added", ADDED, "ec-p256").certificate.public_bytes(serialization.Encoding.PEM))
    parties_file.write_text(
        parties_file.read_text(encoding="utf-8").replace(
            f'roles = ["pirate"]\ncertificates = ["{certificate}"]', f'roles = ["logistics"]\ncertificates = ["{own}"]'
        ),
        encoding="utf-8",
    )
    assert main(["--config", str(config), "parties", "reload"]) == 0
    running.refresh()
    assert ADDED in {party.identity for party in running.all()}
    engine.dispose()
