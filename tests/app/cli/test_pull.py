"""`gateway pull`: a party fetches its messages from a running gateway and acknowledges them."""

from __future__ import annotations

import pytest
from rich.console import Console
from support import LiveGateway

from app.cli import pull
from app.cli.main import main
from conformance import SAMPLES_DIR
from gateway import client
from gateway.envelope import content_element
from gateway.lifecycle import OutboundStatus
from gateway.outbound.compose import Subject
from gateway.services import Services
from gateway.store.engine import writing

pytestmark = pytest.mark.integration

MARKETPLACE = "0101234567"


@pytest.mark.parametrize("door", [[], ["--soap"], ["--soap12"]], ids=["http", "soap11", "soap12"])
def test_pull_lists_the_messages_and_acknowledges_them(
    live_gateway: LiveGateway, services: Services, config_path, capsys: pytest.CaptureFixture[str], door: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pull, "console", Console(width=250))  # whole message ids in the table
    content = content_element(client.load_envelope(SAMPLES_DIR / "RESULT_NOTICE.xml"))
    with writing(services.engine) as tx:
        sent = [services.outbox.emit(tx, MARKETPLACE, Subject("RESULT_NOTICE", "23", "107012345670"), content, "c", actor="worker") for _ in range(3)]
    command = ["--config", str(config_path), "pull", "--party", MARKETPLACE, "--url", live_gateway.url, "--limit", "2", *door]

    assert main([*command, "--ack"]) == 0
    first = capsys.readouterr().out
    assert main(command) == 0
    second = capsys.readouterr().out

    assert "2 message(s) for 0101234567, 1 more pending" in first and "acknowledged 2 message(s): ACCEPTED" in first
    assert all(m.message_id in first for m in sent[:2]) and "verified" in first
    assert "1 message(s) for 0101234567, 0 more pending" in second and sent[2].message_id in second
    statuses = [services.outbox.get(m.message_id).status for m in sent]  # type: ignore[union-attr]
    assert statuses == [OutboundStatus.DELIVERED.value] * 2 + [OutboundStatus.PENDING.value]
