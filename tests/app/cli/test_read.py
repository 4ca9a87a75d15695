"""`gateway read REFERENCE --as PARTY` in-process against the test store: what a party may read, or its refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console
from rows import accept
from support import MessageFactory

from app.cli import read as read_command
from app.cli.main import main
from gateway.pipeline import Pipeline
from gateway.store.messages import StoredMessage

pytestmark = pytest.mark.stores("sqlite")  # business: SQLite; the PostgreSQL cross-checks are marked (tests/conftest.py)

NUMBER = "107012345670"


@pytest.fixture
def command(config_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("GATEWAY_DB_URL", db_url)
    monkeypatch.setattr(read_command, "console", Console(width=250))  # whole cells in rich's tables
    return ["--config", str(config_path), "read"]


@pytest.fixture
def declared(pipeline: Pipeline, messages: MessageFactory) -> StoredMessage:
    return accept(pipeline, messages, "ECOM_DECLARATION")


@pytest.mark.parametrize("party", ["HQHCM", "0309876543"])
def test_customs_and_the_declarant_read_the_declaration(
    command: list[str], declared: StoredMessage, capsys: pytest.CaptureFixture[str], party: str
) -> None:
    assert main([*command, NUMBER, "--as", party]) == 0

    out = capsys.readouterr().out
    assert f"{NUMBER} as read by {party}" in out and declared.message_id in out and "ECOM_DECLARATION" in out


def test_json_carries_the_entries_with_their_signed_bodies(
    command: list[str], declared: StoredMessage, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, declared.message_id, "--as", "HQHCM", "--json"]) == 0

    document = json.loads(capsys.readouterr().out)
    (entry,) = document["entries"]
    assert (document["reference"], document["reader"]) == (declared.message_id, "HQHCM")
    assert (entry["source"], entry["sender"], entry["message_id"]) == ("inbound", "0309876543", declared.message_id)
    assert "<ds:SignatureValue>" in entry["body"] and entry["at"].endswith("+00:00")


@pytest.mark.parametrize("reference", [NUMBER, "107099999999"])
def test_a_marketplace_is_refused_alike_whether_the_declaration_exists_or_not(
    command: list[str], declared: StoredMessage, capsys: pytest.CaptureFixture[str], reference: str
) -> None:
    assert main([*command, reference, "--as", "0101234567"]) == 1
    assert f"refused: nothing about {reference} may be read by 0101234567" in capsys.readouterr().out

    assert main([*command, reference, "--as", "0101234567", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["refused"] == f"nothing about {reference} may be read by 0101234567"


def test_an_unknown_party_is_an_error(
    command: list[str], declared: StoredMessage, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, NUMBER, "--as", "NOBODY"]) == 2
    assert "unknown party: NOBODY" in capsys.readouterr().err
