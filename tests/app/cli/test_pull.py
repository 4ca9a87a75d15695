"""`gateway pull`: a party fetches its messages from a running gateway and acknowledges them."""

from __future__ import annotations

import pytest
from rich.console import Console
from support import PULLERS, Live

from app.cli import pull
from app.cli.main import main
from conformance import SAMPLES_DIR
from gateway import client
from gateway.envelope import content_element
from gateway.lifecycle import OutboundStatus
from gateway.outbound.compose import Subject
from gateway.store.engine import writing


@pytest.mark.parametrize(
    ("door", "party"),  # a party of its own per test: the gateway is shared (tests/conftest.py)
    [([], PULLERS[0]), (["--soap"], PULLERS[1]), (["--soap12"], PULLERS[2])],
    ids=["http", "soap11", "soap12"],
)
def test_pull_lists_the_messages_and_acknowledges_them(
    live_gateway: Live, capsys: pytest.CaptureFixture[str], door: list[str], party: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = live_gateway.services
    monkeypatch.setattr(pull, "console", Console(width=250))  # whole message ids in the table
    content = content_element(client.load_envelope(SAMPLES_DIR / "RESULT_NOTICE.xml"))
    with writing(services.engine) as tx:
        sent = [services.outbox.emit(tx, party, Subject("RESULT_NOTICE", "23", "107012345670"), content, "c", actor="worker") for _ in range(3)]
    command = ["--config", str(live_gateway.config_path), "pull", "--party", party, "--url", live_gateway.url, "--limit", "2", *door]

    assert main([*command, "--ack"]) == 0
    first = capsys.readouterr().out
    assert main(command) == 0
    second = capsys.readouterr().out

    assert f"2 message(s) for {party}, 1 more pending" in first and "acknowledged 2 message(s): ACCEPTED" in first
    assert all(m.message_id in first for m in sent[:2]) and "verified" in first
    assert f"1 message(s) for {party}, 0 more pending" in second and sent[2].message_id in second
    statuses = [services.outbox.get(m.message_id).status for m in sent]  # type: ignore[union-attr]
    assert statuses == [OutboundStatus.DELIVERED.value] * 2 + [OutboundStatus.PENDING.value]
