"""`gateway certs list [--expiring TIME] [--json]`, in-process against a SQLite store whose registry holds the
repository's parties and one whose certificate expires in ten days."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from rich.console import Console
from support import REPO, write_config

from app.cli import certs as certs_cli
from app.cli.main import main
from gateway.config import load_settings
from gateway.parties import read_parties_file, sync_parties
from gateway.signing.pki import load_ca
from gateway.store.engine import make_engine

SOON = "0400000077"


@pytest.fixture
def config(tmp_path: Path, pki_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    soon = load_ca(pki_dir).issue("Expiring soon", SOON, "ec-p256", not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=10))
    (tmp_path / "soon.cert.pem").write_bytes(soon.certificate.public_bytes(serialization.Encoding.PEM))
    parties = tmp_path / "parties.toml"
    parties.write_text(
        (REPO / "config" / "parties.toml").read_text(encoding="utf-8")
        + f'\n[[party]]\nid = "{SOON}"\nroles = ["logistics"]\ncertificates = ["{tmp_path / "soon.cert.pem"}"]\n',
        encoding="utf-8",
    )
    path = write_config(tmp_path / "config", pki_dir, "cli-certs", registry={"parties": str(parties)})
    monkeypatch.setenv("GATEWAY_DB_URL", f"sqlite:///{tmp_path / 'store.db'}")
    settings = load_settings(path)
    engine = make_engine(settings.db_url)
    sync_parties(engine, read_parties_file(settings.parties_file, pki_dir))
    engine.dispose()
    monkeypatch.setattr(certs_cli, "console", Console(width=250))  # table rows unfolded
    return path


def listed(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, object]]]:
    capsys.readouterr()
    status = main(["--config", str(config), "certs", "list", "--json", *args])
    return status, json.loads(capsys.readouterr().out)["certificates"]


def test_every_partys_certificate_and_the_gateways_own_soonest_first(
    config: Path, pki_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, found = listed(config, capsys)

    assert status == 0
    parties = {entry["party"] for entry in found}
    configured = {p.identity for p in read_parties_file(REPO / "config" / "parties.toml", pki_dir)}
    assert configured | {SOON, "VNECOMGW"} <= parties
    assert found[0]["party"] == SOON and found[0]["days_left"] in (9, 10)
    assert [entry["not_after"] for entry in found] == sorted(entry["not_after"] for entry in found)
    own_print = x509.load_pem_x509_certificate((pki_dir / "VNECOMGW.cert.pem").read_bytes()).fingerprint(hashes.SHA256()).hex()
    assert any(entry["party"] == "VNECOMGW" and entry["fingerprint"] == own_print for entry in found)


def test_expiring_lists_only_those_within_the_time_and_exits_1_when_there_are_any(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, found = listed(config, capsys, "--expiring", "60d")
    assert status == 1 and [entry["party"] for entry in found] == [SOON]

    status, found = listed(config, capsys, "--expiring", "1w")
    assert (status, found) == (0, [])

    capsys.readouterr()
    assert main(["--config", str(config), "certs", "list"]) == 0
    table = capsys.readouterr().out
    assert SOON in table and "Expiring soon" in table


def test_a_duration_that_is_not_one_is_refused(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(config), "certs", "list", "--expiring", "soon"])
    assert exit_.value.code == 2 and "not a duration" in capsys.readouterr().err
