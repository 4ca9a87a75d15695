"""`gateway purge [--dry-run]` then `gateway archive verify`: what an operator runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from aged import inbound
from support import write_config

from app.cli.main import main
from gateway.store.engine import make_engine
from gateway.store.messages import MessageStore


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """`purge` configures logging for its process; here it runs in the test's."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.mark.stores("sqlite")
def test_purge_dry_run_then_purge_then_verify_the_archive(
    db_url: str, pki_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(write_config(tmp_path / "config", pki_dir, "gwtest-unused", retention={"document_types": {"ECOM_DECLARATION": 1826}}))
    monkeypatch.setenv("GATEWAY_DB_URL", db_url)
    engine = make_engine(db_url)
    store = MessageStore(engine)
    purged = inbound(store, age_days=1827)
    inbound(store, age_days=1827), inbound(store, age_days=1825)
    engine.dispose()

    assert main(["--config", config, "purge", "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("would purge 2 inbound, 0 outbound messages and 0 rejections")
    assert main(["--config", config, "purge"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("purged 2 inbound, 0 outbound messages and 0 rejections")
    archive = out.split("archive: ")[1].strip()
    assert archive.startswith(str(tmp_path / "config" / "var" / "archive"))  # [retention] archive_dir, under var/
    assert main(["--config", config, "archive", "verify", archive]) == 0
    assert "valid; signed by" in capsys.readouterr().out
    assert main(["--config", config, "messages", "show", purged.message_id]) == 1
    shown = capsys.readouterr().out.replace("\n", "")
    assert f"and purged {dt.datetime.now(dt.UTC):%Y-%m-%d}" in shown and f"in archive {Path(archive).name}" in shown
    assert main(["--config", config, "purge", "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("would purge 0 inbound")
